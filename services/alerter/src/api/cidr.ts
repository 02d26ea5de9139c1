/** An IP address as its bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array

/** A network: its address (host bits zero) and prefix length in bits. */
export interface Cidr {
  bytes: IpBytes
  prefix: number
  /** canonical text, e.g. 10.0.0.0/8 or 2001:db8::/32 */
  text: string
}

/**
 * The bytes of an IPv4 (dotted quad, no leading zeros: 010 is octal to some tools) or IPv6 address
 * (with :: and an embedded IPv4 tail; no zone). An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * its IPv4 address, so one rule covers both spellings. Null when `text` is not an address.
 */
export function parseIp(text: string): IpBytes | null {
  if (text.includes(':')) {
    const v6 = parseIpv6(text)
    return v6 && isIpv4Mapped(v6) ? v6.slice(12) : v6
  }
  return parseIpv4(text)
}

/**
 * `a.b.c.d/n` or `v6/n`, or a bare address (one host); an IPv4-mapped network is its IPv4 one.
 * Throws an Error whose message says what is wrong.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/')
  const addressText = slash < 0 ? text : text.slice(0, slash)
  const bytes = addressText.includes(':') ? parseIpv6(addressText) : parseIpv4(addressText)
  if (!bytes) throw new Error(`"${addressText}" is not an IPv4 or IPv6 address`)
  const bits = bytes.length * 8
  let prefix = bits
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1)
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) throw new Error(`prefix length must be 0 to ${bits}, got "${prefixText}"`)
    prefix = Number(prefixText)
  }
  if (bytes.length === 16 && isIpv4Mapped(bytes) && prefix >= 96) return parseCidr(`${formatIp(bytes.slice(12))}/${prefix - 96}`)
  const network = masked(bytes, prefix)
  if (!equalBytes(network, bytes)) {
    throw new Error(`${text} has host bits set: did you mean ${formatIp(network)}/${prefix}?`)
  }
  return { bytes: network, prefix, text: `${formatIp(network)}/${prefix}` }
}

/** Whether `ip` is in `cidr`; an address of the other family never is. */
export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  if (ip.length !== cidr.bytes.length) return false
  return equalBytes(masked(ip, cidr.prefix), cidr.bytes)
}

function parseIpv4(text: string): IpBytes | null {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return null
  return Uint8Array.from(parts.map(Number))
}

function parseIpv6(text: string): IpBytes | null {
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groups = (half: string): number[] | null => {
    if (half === '') return []
    const out: number[] = []
    const parts = half.split(':')
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part)
        if (!v4) return null
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16))
      } else {
        return null
      }
    }
    return out
  }
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  if (!head || !tail) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8
    bytes[2 * i + 1] = g & 0xff
  })
  return bytes
}

const isIpv4Mapped = (b: IpBytes) => b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff

function masked(bytes: IpBytes, prefix: number): IpBytes {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i))
    return b & ((0xff << (8 - keep)) & 0xff)
  })
}

function equalBytes(a: IpBytes, b: IpBytes): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** IPv4 dotted; IPv6 in RFC 5952 form (lower case, the longest run of two or more zero groups as ::). */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.')
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!)
  let best = { start: -1, length: 0 }
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i }
    i = j > i ? j : i + 1
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.start < 0) return hex.join(':')
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`
}
