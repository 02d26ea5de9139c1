/** Shannon entropy of `text` in bits per character; 0 for empty text. */
export function shannonEntropy(text: string | null | undefined): number {
  if (!text) return 0
  const counts = new Map<number, number>()
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    counts.set(c, (counts.get(c) ?? 0) + 1)
  }
  let bits = 0
  for (const n of counts.values()) {
    const p = n / text.length
    bits -= p * Math.log2(p)
  }
  return bits
}

export type UserAgentClass = 'none' | 'browser' | 'cli' | 'scanner' | 'bot'

// Checked in this order: scanners often also claim to be a browser, bots say "Mozilla/5.0 (compatible; ...bot".
const SCANNER = /nikto|sqlmap|nmap|masscan|zgrab|netsparker|acunetix|w3af|nessus|openvas|dirbuster|gobuster|wpscan|burp|zap\/|nuclei|arachni|skipfish|wfuzz|ffuf|qualys|jaeles|whatweb/i
const BOT = /bot\b|bot\/|crawler|spider|slurp|bingpreview|facebookexternalhit|archive\.org|yandex|baidu/i
const CLI = /^(curl|wget|python|go-http-client|java\/|libwww|lwp|okhttp|apache-httpclient|httpie|node-fetch|axios|ruby|php|perl|powershell|winhttp|aiohttp|requests|scrapy)/i
// Internet Explorer 4 to 8 send `Mozilla/4.0 (compatible; MSIE n.n; ...)`, and later ones in compatibility
// view do as MSIE 7.0. Only those versions: MSIE 2 or 3 never sent Mozilla/4.0, so such a string is forged.
const BROWSER = /^mozilla\/5\.0 .*(chrome|firefox|safari|edg|opera|msie|trident)|^mozilla\/4\.0 \(compatible; msie [4-8]\./i

/** What kind of client a user agent string names. */
export function userAgentClass(userAgent: string | null | undefined): UserAgentClass {
  if (!userAgent || userAgent === '-') return 'none'
  if (SCANNER.test(userAgent)) return 'scanner'
  if (BOT.test(userAgent)) return 'bot'
  if (CLI.test(userAgent)) return 'cli'
  if (BROWSER.test(userAgent)) return 'browser'
  return 'none'
}
