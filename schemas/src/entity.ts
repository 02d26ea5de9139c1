import { isIPv6 } from 'node:net'

/**
 * The kinds of entity whose windows the featurizer keeps (its entityOf), each named by the ECS field
 * its id is: the client's address; else the client's host name, where the line names it only so;
 * else (and for a host's own addresses and names) the host that logged the line. A correlation grouped by one of these fields alone is about
 * that entity (the alerter's Sigma rules).
 */
export const ENTITY_KINDS = ['source.ip', 'source.domain', 'host.name'] as const
export type EntityKind = (typeof ENTITY_KINDS)[number]

/**
 * An address as one spelling, so that one client is one entity, one Sigma group and one suppression
 * whichever log named it: IPv6 in its short form (RFC 5952: lower case, the longest run of zeros as
 * `::`), as Zeek, sshd and web servers write it, where netfilter writes every digit
 * (`2001:0db8:0000:…`), and without a zone (`fe80::1%eth0`: the interface is the logging host's,
 * and Zeek writes none); an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as servers on dual-stack
 * sockets log their IPv4 clients, or `::ffff:c000:201`) as plain IPv4, the form the IP databases look
 * IPv4 up by. Anything that is not an IPv6 address is returned as it is.
 */
export function canonicalIp(written: string): string {
  const zone = written.indexOf('%')
  const address = zone === -1 ? written : written.slice(0, zone)
  if (!isIPv6(address)) return written
  // The WHATWG URL parser's serialisation of an IPv6 host is RFC 5952's (and writes a mapped IPv4 in hex).
  const ip = new URL(`http://[${address}]/`).hostname.slice(1, -1)
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip)
  if (!mapped) return ip
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)]
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
}
