import { isIP } from 'node:net'
import type { EventOutcome, ParsedFields } from '../ecs-event.ts'
import type { FamilyParser } from './family-parser.ts'

/** What the firewall parser fills in; the caller adds @timestamp, message, host and process. */
export type FirewallFields = Pick<ParsedFields, 'event' | 'source' | 'destination' | 'network' | 'observer' | 'rule'>
type Endpoint = NonNullable<FirewallFields['source']>

/** The netfilter fields read into the event; the others (TTL, ID, WINDOW, ...) and flags (DF, SYN) are skipped. */
const FIELDS = ['IN', 'OUT', 'SRC', 'DST', 'LEN', 'PROTO', 'SPT', 'DPT'] as const
type Field = (typeof FIELDS)[number]
type Fields = Partial<Record<Field, string>>

/** What the log prefix says about the verdict: the first rule whose word it contains wins. */
const VERDICTS: readonly { words: readonly string[]; type: string; action: string; outcome: EventOutcome }[] = [
  { words: ['BLOCK', 'DROP', 'REJECT', 'DENY', 'DENIED', 'DISCARD'], type: 'denied', action: 'firewall_block', outcome: 'failure' },
  { words: ['ALLOW', 'ACCEPT'], type: 'allowed', action: 'firewall_allow', outcome: 'success' },
]
const LOGGED = { type: 'connection', action: 'firewall_log', outcome: 'unknown' as EventOutcome }

/** netfilter's protocol names, and the IANA numbers it writes for the others, as ECS transport names. */
const TRANSPORTS: ReadonlyMap<string, string> = new Map([
  ['TCP', 'tcp'], ['UDP', 'udp'], ['ICMP', 'icmp'], ['ICMPv6', 'ipv6-icmp'], ['UDPLITE', 'udplite'], ['SCTP', 'sctp'],
  ['1', 'icmp'], ['2', 'igmp'], ['6', 'tcp'], ['17', 'udp'], ['47', 'gre'], ['50', 'esp'], ['51', 'ah'], ['58', 'ipv6-icmp'], ['132', 'sctp'],
])

const SPACE = 0x20
const MAX_LINE_CHARS = 4096
const MAX_PREFIX_CHARS = 256

/**
 * Reads a netfilter log line (iptables/nftables `LOG`, ufw, Shorewall, firewalld: `<prefix>IN=eth0
 * OUT= ... SRC=1.2.3.4 DST=5.6.7.8 LEN=60 ... PROTO=TCP SPT=1234 DPT=22 ...`) into ECS fields. The
 * fields are read as `KEY=value` pairs whatever their order, the first of a repeated key winning
 * (ICMP repeats ID, UDP repeats LEN) and the packet quoted in brackets after an ICMP error skipped.
 * The prefix is the rule's name and tells the verdict. Returns null when there is no `IN=` field
 * list with a source and destination address.
 */
export function parseFirewall(message: string): FirewallFields | null {
  if (message.length > MAX_LINE_CHARS) return null
  const start = fieldsStart(message)
  if (start === -1) return null
  const f = readFields(message, start)
  const src = f.SRC
  const dst = f.DST
  if (src === undefined || dst === undefined || isIP(src) === 0 || isIP(dst) === 0) return null

  const prefix = readPrefix(message.slice(0, start))
  const source: Endpoint = { ip: src }
  const destination: Endpoint = { ip: dst }
  const sourcePort = portOf(f.SPT)
  const destinationPort = portOf(f.DPT)
  if (sourcePort !== undefined) source.port = sourcePort
  if (destinationPort !== undefined) destination.port = destinationPort
  const observer: NonNullable<FirewallFields['observer']> = { type: 'firewall' }
  if (f.IN) observer.ingress_interface = f.IN
  if (f.OUT) observer.egress_interface = f.OUT
  const { verdict } = prefix
  const proto = f.PROTO
  const transport = proto ? (TRANSPORTS.get(proto) ?? proto.toLowerCase()) : undefined
  // A TCP packet without ACK and without RST tries to open a connection (ECS event.type `start`): a
  // SYN, or a stealth scan's FIN, NULL or Xmas packet. A reply (SYN ACK), a reset or a late packet of
  // a connection the firewall forgot is none.
  const opens = transport === 'tcp' && triesToOpen(message, start)
  const fields: FirewallFields = {
    event: { category: ['network'], type: opens ? [verdict.type, 'start'] : [verdict.type], action: verdict.action, outcome: verdict.outcome, dataset: 'firewall.netfilter' },
    source,
    destination,
    observer,
  }

  const bytes = f.LEN !== undefined && f.LEN.length <= 15 && isDigits(f.LEN) ? Number(f.LEN) : undefined
  if (transport !== undefined || bytes !== undefined || prefix.direction !== undefined) {
    const network: NonNullable<FirewallFields['network']> = {}
    if (transport !== undefined) network.transport = transport
    if (bytes !== undefined) network.bytes = bytes
    if (prefix.direction !== undefined) network.direction = prefix.direction
    fields.network = network
  }
  if (prefix.name !== '') fields.rule = { name: prefix.name }
  return fields
}

/** The registry entry: kernel lines (or header-less ones) carrying netfilter's SRC= and DST=. */
export const firewallParser: FamilyParser = {
  family: 'firewall',
  claims: (input) => {
    if (input.appName === null ? input.zeek !== null : input.appName !== 'kernel') return false
    const src = input.message.indexOf(' SRC=')
    return src !== -1 && input.message.indexOf(' DST=', src) !== -1
  },
  parse: (input) => parseFirewall(input.message),
}

/**
 * Where netfilter's own text starts: at `IN=`, which it writes first, then `OUT=` (or, on a bridge,
 * `PHYSIN=`). The log prefix is whatever the rule set, so it may end without a space
 * (`Drop TCP after 17 attemptsIN=br0`) or contain `IN=` itself; the next field tells them apart.
 */
function fieldsStart(message: string): number {
  let end = -1
  for (let at = message.indexOf('IN='); at !== -1; at = message.indexOf('IN=', at + 3)) {
    // Every `IN=` inside one word ends at the same space: look for it once per word.
    if (at > end) {
      end = message.indexOf(' ', at)
      if (end === -1) return -1
      if (message.startsWith('OUT=', end + 1) || message.startsWith('PHYSIN=', end + 1)) return at
    }
  }
  return -1
}

function readFields(message: string, start: number): Fields {
  const out: Fields = {}
  let found = 0
  let depth = 0
  let pos = start
  // The next `=` at or after pos, found once and reused by the words before it (flags like DF have none).
  let eq = -1
  while (pos < message.length) {
    if (message.charCodeAt(pos) === SPACE) {
      pos++
      continue
    }
    let end = message.indexOf(' ', pos)
    if (end === -1) end = message.length
    if (message.charCodeAt(pos) === 0x5b) depth++
    if (depth === 0) {
      if (eq < pos) {
        eq = message.indexOf('=', pos)
        if (eq === -1) eq = message.length
      }
      if (eq > pos && eq < end) {
        const key = fieldAt(message, pos, eq)
        if (key !== null && out[key] === undefined) {
          out[key] = message.slice(eq + 1, end)
          if (++found === FIELDS.length) break
        }
      }
    }
    if (message.charCodeAt(end - 1) === 0x5d && depth > 0) depth--
    pos = end
  }
  return out
}

/**
 * Whether netfilter's TCP flags (bare words after `RES=0x..`, or after `WINDOW=` where ulogd leaves
 * RES out, up to `URGP=`: `CWR ECE URG ACK PSH RST SYN FIN`) hold neither ACK nor RST. Only the
 * packet's own: an ICMP error's quoted packet, in brackets, is not this one (and this is asked only
 * of TCP packets, which quote none). A line without either field tells nothing, and is no attempt.
 */
function triesToOpen(message: string, start: number): boolean {
  const bracket = message.indexOf('[', start)
  const before = (at: number) => at !== -1 && (bracket === -1 || at < bracket)
  let at = message.indexOf(' RES=0x', start)
  if (!before(at)) at = message.indexOf(' WINDOW=', start)
  if (!before(at)) return false
  for (let pos = message.indexOf(' ', at + 1); pos !== -1;) {
    const next = message.indexOf(' ', pos + 1)
    const word = message.slice(pos + 1, next === -1 ? message.length : next)
    if (word.includes('=')) break
    if (word === 'ACK' || word === 'RST') return false
    pos = next
  }
  return true
}

/** The field named by `message[pos, eq)`, compared in place: most keys on a line are skipped, and this slices none of them. */
function fieldAt(message: string, pos: number, eq: number): Field | null {
  switch (eq - pos) {
    case 2:
      return message.startsWith('IN', pos) ? 'IN' : null
    case 3:
      switch (message.charCodeAt(pos)) {
        case 0x4f: return message.startsWith('OUT', pos) ? 'OUT' : null
        case 0x53: return message.startsWith('SRC', pos) ? 'SRC' : message.startsWith('SPT', pos) ? 'SPT' : null
        case 0x44: return message.startsWith('DST', pos) ? 'DST' : message.startsWith('DPT', pos) ? 'DPT' : null
        case 0x4c: return message.startsWith('LEN', pos) ? 'LEN' : null
        default: return null
      }
    case 5:
      return message.startsWith('PROTO', pos) ? 'PROTO' : null
    default:
      return null
  }
}

interface Prefix { name: string; verdict: Verdict; direction?: string }
type Verdict = (typeof VERDICTS)[number] | typeof LOGGED

// A rule set has a handful of prefixes, and each is read once.
const prefixes = new Map<string, Prefix>()
const MAX_CACHED_PREFIXES = 1024

function readPrefix(raw: string): Prefix {
  const cached = prefixes.get(raw)
  if (cached !== undefined) return cached
  const name = ruleName(raw)
  const upper = name.toUpperCase()
  const verdict = VERDICTS.find((v) => v.words.some((w) => upper.includes(w))) ?? LOGGED
  const direction = upper.includes('OUTBOUND') ? 'outbound' : upper.includes('INBOUND') ? 'inbound' : undefined
  const prefix: Prefix = { name, verdict, ...(direction !== undefined && { direction }) }
  // A kernel time makes every prefix new; only the stable ones are worth keeping.
  if (raw.charCodeAt(0) !== 0x5b || !raw.includes('.')) {
    if (prefixes.size >= MAX_CACHED_PREFIXES) prefixes.clear()
    prefixes.set(raw, prefix)
  }
  return prefix
}

/**
 * The log prefix as a rule name: without a kernel time (`[12345.678]`), the syslog header of a
 * line that came without one parsed (`... kernel: `), ufw's brackets or a trailing `:`.
 */
function ruleName(prefix: string): string {
  let s = prefix.length > MAX_PREFIX_CHARS ? prefix.slice(-MAX_PREFIX_CHARS) : prefix
  const kernel = s.lastIndexOf('kernel: ')
  if (kernel !== -1) s = s.slice(kernel + 'kernel: '.length)
  s = s.trim()
  if (s.charCodeAt(0) === 0x5b) {
    const close = s.indexOf(']')
    if (close !== -1 && isKernelTime(s.slice(1, close))) s = s.slice(close + 1).trim()
  }
  if (s.charCodeAt(0) === 0x5b && s.charCodeAt(s.length - 1) === 0x5d) s = s.slice(1, -1).trim()
  if (s.endsWith(':')) s = s.slice(0, -1).trim()
  return s
}

function isKernelTime(s: string): boolean {
  const t = s.trim()
  const dot = t.indexOf('.')
  return dot > 0 && isDigits(t.slice(0, dot)) && isDigits(t.slice(dot + 1))
}

function portOf(value: string | undefined): number | undefined {
  if (value === undefined || value.length > 5 || !isDigits(value)) return undefined
  const port = Number(value)
  return port <= 65535 ? port : undefined
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}
