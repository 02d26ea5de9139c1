/** `Mmm dd hh:mm:ss host tag: message`, as loghub stores syslog (RFC 3164 without PRI). */
const BSD_LINE = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^:]*):(.*)$/
const IPV4 = /(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])/

/**
 * A one-host log sample as if `hosts` servers had logged it: each BSD-style syslog line's host
 * becomes `<host>-<n>`, so a replay is keyed (by sending host) over many raw-logs partitions. A
 * process keeps one host, chosen by the first IPv4 address any of its lines names (as a load
 * balancer with source affinity would route that client) or else by the process itself, so one
 * source's events keep their order through one partition. Deterministic; lines of another shape
 * are kept as they are.
 */
export function spreadOverHosts(lines: string[], hosts: number): string[] {
  const processOf = (host: string, tag: string) => `${host} ${tag}`
  const addressOfProcess = new Map<string, string>()
  for (const line of lines) {
    const m = BSD_LINE.exec(line)
    if (!m) continue
    const process = processOf(m[2]!, m[3]!)
    const address = IPV4.exec(m[4]!)?.[1]
    if (address && !addressOfProcess.has(process)) addressOfProcess.set(process, address)
  }
  return lines.map((line) => {
    const m = BSD_LINE.exec(line)
    if (!m) return line
    const process = processOf(m[2]!, m[3]!)
    const n = fnv1a(addressOfProcess.get(process) ?? process) % hosts
    return `${m[1]} ${m[2]}-${n} ${m[3]}:${m[4]}`
  })
}

/** 32-bit FNV-1a: a stable spread, the same on every run. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}
