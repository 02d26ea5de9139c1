import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { parseSyslog } from '@vigil/syslog'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { avroProblems, lineEdits, mutate } from './parser-fuzz.ts'
import type { ParserInput } from '../../../src/parsers/family-parser.ts'
import { firewallParser, parseFirewall, type FirewallFields } from '../../../src/parsers/firewall.ts'

const fixture = (path: string) => fileURLToPath(new URL(`../../../../../test/fixtures/${path}`, import.meta.url))

function linesOf(path: string): string[] {
  const bytes = readFileSync(fixture(path))
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split(/\r?\n/).filter((l) => l.length > 0)
}

// The files hold syslog as written to disk, without <PRI>; the kernel sends with one (4: kern.warning).
function syslogInput(line: string): ParserInput {
  const parsed = parseSyslog(`<4>${line}`)
  if (!parsed.ok) throw new Error(`not syslog: ${line}`)
  return { message: parsed.header.message, appName: parsed.header.appName, line, zeek: null }
}

const headerless = (line: string): ParserInput => ({ message: line, appName: null, line, zeek: null })
const IPTABLES = 'sotm34-honeynet/iptables/iptablesyslog-sample.gz'

const LOGGED = { category: ['network'], type: ['connection'], action: 'firewall_log', outcome: 'unknown' as const, dataset: 'firewall.netfilter' }
const BLOCKED = { category: ['network'], type: ['denied'], action: 'firewall_block', outcome: 'failure' as const, dataset: 'firewall.netfilter' }
const ALLOWED = { category: ['network'], type: ['allowed'], action: 'firewall_allow', outcome: 'success' as const, dataset: 'firewall.netfilter' }
const BRIDGE = { type: 'firewall', ingress_interface: 'br0', egress_interface: 'br0' }
/** The event of a TCP packet that opens a connection (SYN without ACK). */
const opening = <T extends { type: string[] }>(event: T): T => ({ ...event, type: [...event.type, 'start'] })



describe('parseFirewall on the SotM34 honeywall log', () => {
  const inputs = linesOf(IPTABLES).map(syslogInput)

  it('parses every line it claims', () => {
    const claimed = inputs.filter((i) => firewallParser.claims(i))
    const parsed = claimed.map((i) => firewallParser.parse(i)).filter((f) => f !== null)
    const kinds = new Map<string, number>()
    for (const f of parsed) {
      const kind = `${f.event.action} ${f.network?.transport ?? '?'}`
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
    const table = [...kinds].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `  ${kind.padEnd(22)} ${String(n).padStart(5)}`)
    console.log(`firewall on ${IPTABLES}: ${inputs.length} lines, ${claimed.length} claimed, ${parsed.length} parsed (${((100 * parsed.length) / inputs.length).toFixed(2)}%)\n${table.join('\n')}`)
    expect(inputs).toHaveLength(6200)
    // Three lines of the log lost the space before DST= (`SRC=219.255.10.22.DST=`): not netfilter's shape.
    expect(inputs.filter((i) => !firewallParser.claims(i)).map((i) => i.message)).toEqual(
      Array.from({ length: 3 }, () => expect.stringContaining('SRC=219.255.10.22.DST=11.11.79.81')),
    )
    expect(claimed.filter((i) => firewallParser.parse(i) === null).map((i) => i.line)).toEqual([])
    expect(claimed.flatMap((i) => avroProblems(firewallParser.parse(i)!, i.line))).toEqual([])
  })

  it('claims no other kernel, syslog or web line', () => {
    const syslog = [...linesOf('loghub/Linux_2k.log'), ...linesOf('sotm34-honeynet/syslog/messages.6')].map(syslogInput)
    const web = [...linesOf('sotm34-honeynet/http/access_log.6'), ...linesOf('sotm34-honeynet/http/error_log.6')].map(headerless)
    expect(syslog.some((i) => i.appName === 'kernel')).toBe(true)
    expect([...syslog, ...web].filter((i) => firewallParser.claims(i))).toEqual([])
  })

  it.each<[string, FirewallFields]>([
    ['Feb 25 12:17:10 bridge kernel: INBOUND TCP: IN=br0 PHYSIN=eth0 OUT=br0 PHYSOUT=eth1 SRC=213.55.94.49 DST=11.11.79.73 LEN=48 TOS=0x00 PREC=0x00 TTL=108 ID=60299 DF PROTO=TCP SPT=44281 DPT=139 WINDOW=64240 RES=0x00 SYN URGP=0  ', {
      event: opening(LOGGED), source: { ip: '213.55.94.49', port: 44281 }, destination: { ip: '11.11.79.73', port: 139 }, observer: BRIDGE,
      network: { transport: 'tcp', bytes: 48, direction: 'inbound' }, rule: { name: 'INBOUND TCP' },
    }],
    ['Feb 25 12:21:33 bridge kernel: INBOUND ICMP: IN=br0 PHYSIN=eth0 OUT=br0 PHYSOUT=eth1 SRC=70.81.243.88 DST=11.11.79.100 LEN=92 TOS=0x00 PREC=0x00 TTL=111 ID=21687 PROTO=ICMP TYPE=8 CODE=0 ID=512 SEQ=62893  ', {
      event: LOGGED, source: { ip: '70.81.243.88' }, destination: { ip: '11.11.79.100' }, observer: BRIDGE,
      network: { transport: 'icmp', bytes: 92, direction: 'inbound' }, rule: { name: 'INBOUND ICMP' },
    }],
    // UDP repeats LEN (the UDP length); the IP length, first, is the packet's.
    ['Feb 25 12:31:55 bridge kernel: OUTBOUND CONN UDP: IN=br0 PHYSIN=eth1 OUT=br0 PHYSOUT=eth0 SRC=11.11.79.67 DST=11.11.79.65 LEN=93 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=UDP SPT=514 DPT=514 LEN=73  ', {
      event: LOGGED, source: { ip: '11.11.79.67', port: 514 }, destination: { ip: '11.11.79.65', port: 514 }, observer: BRIDGE,
      network: { transport: 'udp', bytes: 93, direction: 'outbound' }, rule: { name: 'OUTBOUND CONN UDP' },
    }],
    // The honeywall's rate-limit prefix has no trailing space.
    ['Feb 26 19:02:37 bridge kernel: Drop TCP after 17 attemptsIN=br0 PHYSIN=eth1 OUT=br0 PHYSOUT=eth0 SRC=11.11.79.67 DST=129.27.3.14 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=57325 DF PROTO=TCP SPT=1068 DPT=6667 WINDOW=5840 RES=0x00 SYN URGP=0  ', {
      event: opening(BLOCKED), source: { ip: '11.11.79.67', port: 1068 }, destination: { ip: '129.27.3.14', port: 6667 }, observer: BRIDGE,
      network: { transport: 'tcp', bytes: 60 }, rule: { name: 'Drop TCP after 17 attempts' },
    }],
  ])('reads %j', (line, expected) => {
    expect(linesOf(IPTABLES)).toContain(line)
    const input = syslogInput(line)
    expect(firewallParser.claims(input)).toBe(true)
    expect(firewallParser.parse(input)).toEqual(expected)
  })
})

describe('parseFirewall on ufw, iptables and nftables prefixes', () => {
  const MAC = 'MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00'
  it.each<[string, string, FirewallFields]>([
    ['ufw block', `[UFW BLOCK] IN=eth0 OUT= ${MAC} SRC=198.51.100.23 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=54321 DF PROTO=TCP SPT=40512 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0`, {
      event: opening(BLOCKED), source: { ip: '198.51.100.23', port: 40512 }, destination: { ip: '192.0.2.10', port: 22 },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'tcp', bytes: 60 }, rule: { name: 'UFW BLOCK' },
    }],
    ['ufw allow after a kernel time', `[ 1234.567890] [UFW ALLOW] IN=eth0 OUT= ${MAC} SRC=203.0.113.8 DST=192.0.2.10 LEN=52 TOS=0x00 PREC=0x00 TTL=57 ID=1 DF PROTO=TCP SPT=51000 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0`, {
      event: opening(ALLOWED), source: { ip: '203.0.113.8', port: 51000 }, destination: { ip: '192.0.2.10', port: 443 },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'tcp', bytes: 52 }, rule: { name: 'UFW ALLOW' },
    }],
    ['ufw audit', `[UFW AUDIT] IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.53 LEN=71 TOS=0x00 PREC=0x00 TTL=64 ID=3 DF PROTO=UDP SPT=41000 DPT=53 LEN=51`, {
      event: LOGGED, source: { ip: '127.0.0.1', port: 41000 }, destination: { ip: '127.0.0.53', port: 53 },
      observer: { type: 'firewall', egress_interface: 'lo' }, network: { transport: 'udp', bytes: 71 }, rule: { name: 'UFW AUDIT' },
    }],
    ['ufw limit, IPv6 ICMP', `[UFW LIMIT BLOCK] IN=eth0 OUT= ${MAC} SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=793 PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=1`, {
      event: BLOCKED, source: { ip: '2001:0db8:0000:0000:0000:0000:0000:0001' }, destination: { ip: '2001:0db8:0000:0000:0000:0000:0000:0002' },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'ipv6-icmp', bytes: 104 }, rule: { name: 'UFW LIMIT BLOCK' },
    }],
    ['iptables --log-prefix', `INBOUND DROP: IN=eth1 OUT= ${MAC} SRC=198.51.100.99 DST=192.0.2.1 LEN=40 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP SPT=44555 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0`, {
      event: opening(BLOCKED), source: { ip: '198.51.100.99', port: 44555 }, destination: { ip: '192.0.2.1', port: 3389 },
      observer: { type: 'firewall', ingress_interface: 'eth1' }, network: { transport: 'tcp', bytes: 40, direction: 'inbound' }, rule: { name: 'INBOUND DROP' },
    }],
    ['Shorewall', `Shorewall:net2all:DROP:IN=eth0 OUT= ${MAC} SRC=203.0.113.77 DST=192.0.2.1 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=0 PROTO=TCP SPT=51234 DPT=23 WINDOW=5840 RES=0x00 SYN URGP=0`, {
      event: opening(BLOCKED), source: { ip: '203.0.113.77', port: 51234 }, destination: { ip: '192.0.2.1', port: 23 },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'tcp', bytes: 44 }, rule: { name: 'Shorewall:net2all:DROP' },
    }],
    ['firewalld', `FINAL_REJECT: IN=ens3 OUT= ${MAC} SRC=198.51.100.4 DST=192.0.2.7 LEN=44 TOS=0x00 PREC=0x00 TTL=240 ID=1 PROTO=TCP SPT=55000 DPT=5900 WINDOW=1024 RES=0x00 SYN URGP=0 MARK=0x100`, {
      event: opening(BLOCKED), source: { ip: '198.51.100.4', port: 55000 }, destination: { ip: '192.0.2.7', port: 5900 },
      observer: { type: 'firewall', ingress_interface: 'ens3' }, network: { transport: 'tcp', bytes: 44 }, rule: { name: 'FINAL_REJECT' },
    }],
    ['an accepted echo request going out', 'ACCEPT-OUT: IN= OUT=eth0 SRC=192.0.2.10 DST=203.0.113.5 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1 UID=1000 GID=1000', {
      event: ALLOWED, source: { ip: '192.0.2.10' }, destination: { ip: '203.0.113.5' },
      observer: { type: 'firewall', egress_interface: 'eth0' }, network: { transport: 'icmp', bytes: 84 }, rule: { name: 'ACCEPT-OUT' },
    }],
    // An ICMP error quotes the packet it is about, in brackets: its addresses and ports are not this packet's.
    ['an ICMP error without a prefix', 'IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=88 TOS=0x00 PREC=0xC0 TTL=64 ID=1 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.2 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=2 DF PROTO=UDP SPT=5353 DPT=33434 LEN=40 ] ', {
      event: LOGGED, source: { ip: '192.0.2.1' }, destination: { ip: '198.51.100.2' },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'icmp', bytes: 88 },
    }],
    ['a protocol by number', 'GRE-IN: IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 LEN=120 TOS=0x00 PREC=0x00 TTL=60 ID=9 PROTO=47', {
      event: LOGGED, source: { ip: '198.51.100.1' }, destination: { ip: '192.0.2.1' },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'gre', bytes: 120 }, rule: { name: 'GRE-IN' },
    }],
    ['a prefix that contains IN=', 'LOGIN=x IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2', {
      event: LOGGED, source: { ip: '198.51.100.1', port: 1 }, destination: { ip: '192.0.2.1', port: 2 },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'tcp', bytes: 40 }, rule: { name: 'LOGIN=x' },
    }],
    ['a kernel line that came without a parsed syslog header', 'Mar  1 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 LEN=40 PROTO=UDP SPT=1 DPT=161 LEN=20', {
      event: BLOCKED, source: { ip: '198.51.100.1', port: 1 }, destination: { ip: '192.0.2.1', port: 161 },
      observer: { type: 'firewall', ingress_interface: 'eth0' }, network: { transport: 'udp', bytes: 40 }, rule: { name: 'UFW BLOCK' },
    }],
  ])('reads %s', (_name, message, expected) => {
    expect(firewallParser.claims({ message, appName: 'kernel', line: message, zeek: null })).toBe(true)
    expect(parseFirewall(message)).toEqual(expected)
  })

  it('marks a TCP packet that tries to open a connection (no ACK, no RST: a SYN, or a FIN, NULL or Xmas scan), and no other, as a start', () => {
    const tcp = (flags: string, extra = '') => `[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.23 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=443 DPT=40512 ${extra}WINDOW=29200 RES=0x00 ${flags} URGP=0`
    const typeOf = (message: string) => parseFirewall(message)!.event.type
    expect(typeOf(tcp('SYN'))).toEqual(['denied', 'start'])
    expect(typeOf(tcp('CWR ECE SYN'))).toEqual(['denied', 'start']) // an ECN-capable SYN
    expect(typeOf(tcp('SYN', 'SEQ=1 ACK=0 '))).toEqual(['denied', 'start']) // --log-tcp-sequence: ACK= is a number, not the flag
    for (const stealth of ['FIN', '', 'URG PSH FIN']) expect(typeOf(tcp(stealth).replace('  ', ' ')), `scan "${stealth}"`).toEqual(['denied', 'start']) // nmap -sF, -sN, -sX
    // ulogd's packet printer writes no RES=
    expect(typeOf('[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.23 DST=192.0.2.10 LEN=60 TOS=00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=40512 DPT=22 SEQ=1 ACK=0 WINDOW=29200 SYN URGP=0')).toEqual(['denied', 'start'])
    expect(typeOf('[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.23 DST=192.0.2.10 LEN=60 TOS=00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=443 DPT=40512 SEQ=1 ACK=9 WINDOW=29200 ACK SYN URGP=0')).toEqual(['denied'])
    // a reply, a reset and the late packets of a connection the firewall no longer knows
    for (const flags of ['ACK SYN', 'ACK RST', 'RST', 'RST SYN', 'ACK FIN', 'ACK PSH', 'ACK']) expect(typeOf(tcp(flags)), flags).toEqual(['denied'])
    expect(typeOf('[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2')).toEqual(['denied']) // no flags written
    // an ICMP error about a SYN is no SYN
    expect(typeOf('IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=88 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.2 DST=192.0.2.1 LEN=60 PROTO=TCP SPT=5353 DPT=80 WINDOW=1 RES=0x00 SYN URGP=0 ] ')).toEqual(['connection'])
  })

  it('claims kernel and header-less lines with SRC= and DST=, nothing else', () => {
    const message = '[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2'
    expect(firewallParser.claims({ message, appName: 'kernel', line: message, zeek: null })).toBe(true)
    expect(firewallParser.claims(headerless(message))).toBe(true)
    expect(firewallParser.claims({ message, appName: 'sshd', line: message, zeek: null })).toBe(false)
    expect(firewallParser.claims({ ...headerless(message), zeek: { log: 'conn', fields: null } })).toBe(false)
    expect(firewallParser.claims({ message: 'usb 1-1: new device', appName: 'kernel', line: '', zeek: null })).toBe(false)
    expect(firewallParser.claims({ message: 'x SRC=1.2.3.4', appName: 'kernel', line: '', zeek: null })).toBe(false)
  })

  it('leaves out numbers the schema cannot carry', () => {
    const line = 'IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=99999999999999999999 PROTO=TCP SPT=70000 DPT=123456'
    const fields = parseFirewall(line)!
    expect(fields.network).toEqual({ transport: 'tcp' })
    expect(fields.source).toEqual({ ip: '192.0.2.1' })
    expect(fields.destination).toEqual({ ip: '198.51.100.2' })
    expect(avroProblems(fields, line)).toEqual([])
  })

  it('returns null without netfilter fields', () => {
    for (const message of [
      '', 'SRC=1.2.3.4 DST=5.6.7.8', 'IN=eth0 SRC=1.2.3.4 DST=5.6.7.8', 'IN=eth0 OUT= SRC=1.2.3.4', 'IN=eth0 OUT= SRC=x DST=5.6.7.8',
      'IN=eth0 OUT= SRC=219.255.10.22.DST=11.11.79.81 LEN=48', `IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 ${'X=1 '.repeat(2000)}`,
    ]) {
      expect(parseFirewall(message), message.slice(0, 80)).toBeNull()
    }
  })

  it('gives each event its own arrays', () => {
    const line = 'IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=88 PROTO=ICMP'
    parseFirewall(line)!.event.type.push('mutated')
    expect(parseFirewall(line)!.event.type).toEqual(['connection'])
  })

  it('stays fast on hostile input', () => {
    const hostile = [
      `${'IN=x '.repeat(800)}`,
      `${'IN='.repeat(1300)} OUT=`,
      `IN= OUT= SRC=1.2.3.4 DST=1.2.3.4 ${'[ '.repeat(1900)}`,
      `IN= OUT= ${' '.repeat(4000)}SRC=1.2.3.4 DST=1.2.3.4`,
      `${'['.repeat(3000)} IN= OUT= SRC=1.2.3.4 DST=1.2.3.4`,
    ]
    const started = performance.now()
    for (let i = 0; i < 20; i++) for (const line of hostile) parseFirewall(line)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('parseFirewall properties', () => {
  const real = linesOf(IPTABLES).filter((_, i) => i % 400 === 0).map((l) => syslogInput(l).message)

  function wellFormed(fields: FirewallFields | null, line: string): boolean {
    if (fields === null) return true
    const { event } = fields
    return event.action.startsWith('firewall_') && event.category.length > 0 && ['success', 'failure', 'unknown'].includes(event.outcome) && avroProblems(fields, line).length === 0
  }

  it('never throws on random strings, and returns null or a typed event', () => {
    const pieces = ['IN=', 'OUT=', 'PHYSIN=', 'eth0', ' ', 'SRC=', 'DST=', '1.2.3.4', '2001:db8::1', 'LEN=', '60', 'PROTO=', 'TCP', 'ICMPv6', 'SPT=', 'DPT=', '99999', '[', ']', '[UFW BLOCK] ', 'DROP: ', 'kernel: ', '[ 12.5] ']
    const text = fc.oneof(fc.string({ maxLength: 300, unit: 'grapheme' }), fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((a) => a.join('')))
    fc.assert(fc.property(text, fc.constantFrom('kernel', null), (message, appName) => {
      firewallParser.claims({ message, appName, line: message, zeek: null })
      return wellFormed(parseFirewall(message), message)
    }), { numRuns: 1000 })
  })

  it('never throws on mutated real lines, and returns null or a typed event', () => {
    fc.assert(fc.property(fc.constantFrom(...real), lineEdits(['=', ' ', '[', ']', 'IN=', 'SRC=', ':', '.'], 300), (line, changes) => {
      const mutated = mutate(line, changes)
      firewallParser.claims({ message: mutated, appName: 'kernel', line: mutated, zeek: null })
      return wellFormed(parseFirewall(mutated), mutated)
    }), { numRuns: 1000 })
  })
})
