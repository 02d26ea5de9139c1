import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { avroTypeOf, topics, type EcsEvent } from '@vigil/schemas'
import type { ParserInput } from '../../../src/parsers/family-parser.ts'
import { parserFor } from '../../../src/parsers/index.ts'
import { claimsZeek, parseZeek, zeekMessage, zeekTimestamp, type ZeekFields } from '../../../src/parsers/zeek.ts'

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/', import.meta.url))
// The repo's samples by default; ZEEK_SAMPLE_DIRS (colon-separated) runs the same checks over other copies, e.g. the full datasets.
const SAMPLE_DIRS = process.env.ZEEK_SAMPLE_DIRS?.split(':') ?? [join(FIXTURES, 'stratosphere-zeek'), join(FIXTURES, 'zeek-wrccdc2018')]

interface SampleLine {
  file: string
  log: string
  input: ParserInput
}

/**
 * The data lines of a Zeek log file as the ingestor hands them on: TSV lines with the `#path` and
 * `#fields` header above them, JSON lines as they are when they carry `_path` (no context, so claims
 * must recognise them) and with the log type from the file name when they do not.
 */
function readSample(path: string): SampleLine[] {
  const bytes = readFileSync(path)
  const text = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8')
  const fileLog = basename(path).split('.')[0]!
  let fields: string[] | null = null
  let log = fileLog
  const out: SampleLine[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const [key, ...values] = line.split('\t')
      if (key === '#fields') fields = values
      if (key === '#path') log = values[0]!
      continue
    }
    const zeek = line.startsWith('{') ? (line.includes('"_path"') ? null : { log: fileLog, fields: null }) : { log, fields }
    const input: ParserInput = { message: line, appName: null, line, zeek }
    const pathMatch = /"_path":"([^"]+)"/.exec(line)
    out.push({ file: path, log: zeek?.log ?? pathMatch?.[1] ?? fileLog, input })
  }
  return out
}

function sampleFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sampleFiles(path)
    return /\.(log|json|labeled)(\.gz)?$/.test(name) ? [path] : []
  })
}

const samples = SAMPLE_DIRS.flatMap(sampleFiles).flatMap(readSample)
const fixture = (file: string) => readSample(join(FIXTURES, file))

/** The line of a fixture file that contains `needle` (a uid, usually). */
function lineOf(file: string, needle: string): ParserInput {
  const found = fixture(file).find((s) => s.input.line.includes(needle))
  if (found === undefined) throw new Error(`no line with ${needle} in ${file}`)
  return found.input
}

// The parser output as the features topic carries it (what the featurizer adds around it filled in).
type AvroType = ReturnType<typeof avroTypeOf>
const ecsType = (avroTypeOf(topics.features) as unknown as { field(name: string): { type: AvroType } }).field('event').type
function asEcs(fields: ZeekFields, input: ParserInput): EcsEvent {
  const { event, ...rest } = fields
  return {
    ...rest,
    timestamp: zeekTimestamp(input) ?? 0,
    message: zeekMessage(input) ?? input.line,
    event: { kind: 'event', module: 'zeek', original: input.line, ...event },
  }
}
function avroProblems(ecs: EcsEvent): string[] {
  const problems: string[] = []
  ecsType.isValid(ecs, { errorHook: (path: string[], value: unknown) => problems.push(`${path.join('.')}=${JSON.stringify(value)}`) })
  return problems
}

// Share of each log type's lines that must parse into a typed event; any log type not listed: the default.
const FLOOR: Record<string, number> = { conn: 1, dns: 1, http: 1, ssh: 1, ssl: 1, notice: 1, weird: 1 }
const DEFAULT_FLOOR = 0.99

describe('parseZeek on the Zeek samples', () => {
  it('claims every line and parses each log type into typed, schema-valid events', () => {
    expect(samples.length).toBeGreaterThan(4000)
    const byLog = new Map<string, { lines: number; parsed: number }>()
    const byFile = new Map<string, { log: string; lines: number; parsed: number }>()
    const unclaimed: string[] = []
    const invalid: string[] = []
    for (const { file, log, input } of samples) {
      const perLog = byLog.get(log) ?? { lines: 0, parsed: 0 }
      const name = relative(FIXTURES, file)
      const perFile = byFile.get(name) ?? { log, lines: 0, parsed: 0 }
      byLog.set(log, perLog)
      byFile.set(name, perFile)
      perLog.lines++
      perFile.lines++
      if (!claimsZeek(input) || parserFor(input)?.family !== 'zeek') {
        unclaimed.push(input.line)
        continue
      }
      const fields = parseZeek(input)
      if (fields === null) continue
      perLog.parsed++
      perFile.parsed++
      expect(fields.event.action).toBe(`zeek_${log}`)
      expect(fields.event.dataset).toBe(`zeek.${log}`)
      expect(fields.zeek?.log).toBe(log)
      const problems = avroProblems(asEcs(fields, input))
      if (problems.length > 0) invalid.push(`${name}: ${problems.join(', ')}`)
    }
    const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1).padStart(5)}%`
    const logTable = [...byLog].sort((a, b) => b[1].lines - a[1].lines)
      .map(([log, s]) => `${log.padEnd(16)} ${String(s.parsed).padStart(6)} / ${String(s.lines).padEnd(6)} ${pct(s.parsed, s.lines)}`)
    const fileTable = [...byFile].map(([file, s]) => `${file.padEnd(64)} ${s.log.padEnd(16)} ${String(s.parsed).padStart(6)} / ${String(s.lines).padEnd(6)} ${pct(s.parsed, s.lines)}`)
    console.log(`Zeek lines parsed into a typed event, per log type (${samples.length} lines):\n${logTable.join('\n')}\n\nper file:\n${fileTable.join('\n')}`)

    expect(unclaimed).toEqual([])
    expect(invalid).toEqual([])
    for (const [log, s] of byLog) expect(s.parsed / s.lines, `share of ${log} lines parsed`).toBeGreaterThanOrEqual(FLOOR[log] ?? DEFAULT_FLOOR)
    for (const log of Object.keys(FLOOR)) expect(byLog.get(log)?.lines ?? 0, `${log} lines in the samples`).toBeGreaterThan(0)
  }, 120_000)

  it('reads the fields that make each log type useful', () => {
    const parsed = samples.map(({ log, input }) => ({ log, input, fields: parseZeek(input)! }))
    const of = (log: string) => parsed.filter((p) => p.log === log)
    for (const { fields } of of('conn')) {
      expect(fields.source?.ip).toBeTruthy()
      expect(fields.destination?.port).toBeTypeOf('number')
      expect(fields.network?.transport).toMatch(/^(tcp|udp|icmp|unknown_transport)$/)
      expect(fields.zeek?.conn_state).toBeTruthy()
    }
    // Some mDNS packets carry neither a question nor an rcode; nearly every DNS event has a name.
    const dns = of('dns')
    expect(dns.filter(({ fields }) => fields.dns?.question?.name).length / dns.length).toBeGreaterThan(0.95)
    for (const { fields } of of('http')) expect(fields.http?.request?.method ?? fields.http?.response?.status_code).toBeTruthy()
    for (const { fields } of of('ssl')) expect(fields.tls?.established).toBeTypeOf('boolean')
    for (const { fields, input } of of('notice')) {
      expect(fields.rule?.name).toBe(fields.zeek?.note)
      expect(zeekMessage(input)).toBeTruthy()
    }
    for (const { fields } of of('weird')) expect(fields.zeek?.name).toBeTruthy()
    // Every record with a ts gets its time from it.
    for (const { input } of parsed) {
      if (!/^\d|"ts":/.test(input.line)) continue
      const ts = zeekTimestamp(input)
      expect(Number.isSafeInteger(ts), input.line).toBe(true)
    }
  }, 120_000)
})

const NETWORK_CONNECTION = { category: ['network'], type: ['connection'], action: 'zeek_conn', dataset: 'zeek.conn' }
const DNS = { category: ['network'], type: ['protocol'], action: 'zeek_dns', dataset: 'zeek.dns' }
const HTTP = { category: ['web'], type: ['access'], action: 'zeek_http', dataset: 'zeek.http' }
const SSH = { category: ['authentication'], type: ['info'], action: 'zeek_ssh', dataset: 'zeek.ssh' }
const SSL = { category: ['network'], type: ['protocol'], action: 'zeek_ssl', dataset: 'zeek.ssl' }
const NOTICE = { category: ['intrusion_detection'], type: ['info'], action: 'zeek_notice', dataset: 'zeek.notice', outcome: 'unknown' as const }
const WEIRD = { category: ['intrusion_detection'], type: ['info'], action: 'zeek_weird', dataset: 'zeek.weird', outcome: 'unknown' as const }

describe('parseZeek on real lines of each log type', () => {
  it.each<[string, string, string, ZeekFields, number | null, string | null]>([
    ['conn TSV, udp SF', 'stratosphere-zeek/001-zeek-scenario-malicious/conn.log', 'C91Ycq25p2quMWzEMk', {
      event: { ...NETWORK_CONNECTION, outcome: 'success', duration: 136_721_000 },
      source: { ip: 'fd2d:ab8c:225:0:81d3:fd3e:7f62:aec8', port: 56464, bytes: 82, packets: 1 },
      destination: { ip: 'fd2d:ab8c:225::1', port: 53, bytes: 98, packets: 1 },
      network: { transport: 'udp', protocol: 'dns', bytes: 180, packets: 2, direction: 'external' },
      zeek: { log: 'conn', uid: 'C91Ycq25p2quMWzEMk', conn_state: 'SF', history: 'Dd', service: 'dns', orig_bytes: 34, resp_bytes: 50 },
      related: { ip: ['fd2d:ab8c:225:0:81d3:fd3e:7f62:aec8', 'fd2d:ab8c:225::1'] },
    }, 19_981, null],
    ['conn TSV (labeled), tcp S0 from outside: failure', 'stratosphere-zeek/011-zeek-mixed/data/conn.log.labeled', 'CvIOrb4ekWKPrnpqsf', {
      event: { ...NETWORK_CONNECTION, outcome: 'failure', duration: 2_000 },
      source: { ip: '167.94.138.99', port: 7789, bytes: 88, packets: 2 },
      destination: { ip: '147.32.83.165', port: 445, bytes: 0, packets: 0 },
      network: { transport: 'tcp', bytes: 88, packets: 2, direction: 'inbound' },
      zeek: { log: 'conn', uid: 'CvIOrb4ekWKPrnpqsf', conn_state: 'S0', history: 'S', orig_bytes: 0, resp_bytes: 0 },
      related: { ip: ['167.94.138.99', '147.32.83.165'] },
    }, 1_655_071_209_953, null],
    ['conn JSON without _path (log type from the file name)', 'stratosphere-zeek/002-zeek-scenario-port-scanning/conn.log', 'C5xhsO3uGtOfyrBlHh', {
      event: { ...NETWORK_CONNECTION, outcome: 'unknown', duration: 12_166_977 },
      source: { ip: '172.16.1.11', port: 40042, bytes: 0, packets: 0 },
      destination: { ip: '8.8.8.8', port: 53, bytes: 139, packets: 1 },
      network: { transport: 'udp', protocol: 'dns', bytes: 139, packets: 1, direction: 'outbound' },
      zeek: { log: 'conn', uid: 'C5xhsO3uGtOfyrBlHh', conn_state: 'SHR', history: 'Cd', service: 'dns', orig_bytes: 0, resp_bytes: 111 },
      related: { ip: ['172.16.1.11', '8.8.8.8'] },
    }, 1_664_462_456_755, null],
    ['dns TSV, answered', 'stratosphere-zeek/005-zeek-scenario-malicious/dns.log', 'CaBhzn4douRRoJ519a', {
      event: { ...DNS, outcome: 'success', duration: 1_219_000 },
      source: { ip: '192.168.1.116', port: 50814 }, destination: { ip: '8.8.8.8', port: 53 },
      network: { transport: 'udp', protocol: 'dns' }, zeek: { log: 'dns', uid: 'CaBhzn4douRRoJ519a' },
      related: { ip: ['192.168.1.116', '8.8.8.8'] },
      dns: { question: { name: 'dns.msftncsi.com', type: 'A' }, response_code: 'NOERROR', answers: ['131.107.255.255'] },
    }, 13_184, null],
    ['dns TSV, LLMNR query without reply (rcode, rtt, answers unset)', 'stratosphere-zeek/005-zeek-scenario-malicious/dns.log', '30.841637', {
      event: { ...DNS, outcome: 'unknown' },
      source: { ip: 'fe80::28fb:18bd:1770:8699', port: 55065 }, destination: { ip: 'ff02::1:3', port: 5355 },
      network: { transport: 'udp', protocol: 'dns' }, zeek: { log: 'dns', uid: 'CQXAlY1etq1bO0Zypd' },
      related: { ip: ['fe80::28fb:18bd:1770:8699', 'ff02::1:3'] },
      dns: { question: { name: 'wpad', type: 'A' }, answers: [] },
    }, 30_841, null],
    ['dns TSV, mDNS response with escaped UTF-8 and an escaped comma inside a vector element', 'stratosphere-zeek/009-zeek-malicious/data/dns.log.labeled', 'C0XME3Xwb6YIixC7k', {
      event: { ...DNS, outcome: 'success' },
      source: { ip: '192.168.1.130', port: 5353 }, destination: { ip: '224.0.0.251', port: 5353 },
      network: { transport: 'udp', protocol: 'dns' }, zeek: { log: 'dns', uid: 'C0XME3Xwb6YIixC7k' },
      related: { ip: ['192.168.1.130', '224.0.0.251'] },
      dns: {
        question: { name: 'sebastian’s macbook pro._device-info._tcp.local' }, response_code: 'NOERROR',
        answers: ['TXT 20 model=MacBookPro11,1 TXT 10 osxvers=13', 'sebastian’s macbook pro._osc._udp.local'],
      },
    }, 939_147, null],
    ['dns JSON with _path and ISO ts, two answers', 'zeek-wrccdc2018/zeek-json/dns.json', 'CqKst53mF3det3eDV9', {
      event: { ...DNS, outcome: 'success', duration: 869_989 },
      source: { ip: '10.47.1.100', port: 41772 }, destination: { ip: '10.0.0.100', port: 53 },
      network: { transport: 'udp', protocol: 'dns' }, zeek: { log: 'dns', uid: 'CqKst53mF3det3eDV9' },
      related: { ip: ['10.47.1.100', '10.0.0.100'] },
      dns: { question: { name: 'ise.wrccdc.org', type: 'A' }, response_code: 'NOERROR', answers: ['ise.wrccdc.cpp.edu', '134.71.3.16'] },
    }, 1_521_911_720_865, null],
    ['http TSV', 'stratosphere-zeek/005-zeek-scenario-malicious/http.log', 'CdcB2k1JTIu3hNzVse', {
      event: { ...HTTP, outcome: 'success' },
      source: { ip: '192.168.1.116', port: 49161 }, destination: { ip: '67.55.121.97', port: 80 },
      network: { transport: 'tcp', protocol: 'http' }, zeek: { log: 'http', uid: 'CdcB2k1JTIu3hNzVse' },
      related: { ip: ['192.168.1.116', '67.55.121.97'] },
      url: { original: '/login.php', path: '/login.php', domain: 'gatyfus.com' },
      http: { version: '1.1', request: { method: 'GET', bytes: 6, referrer: 'http://www.google.com' }, response: { status_code: 302, bytes: 154 } },
      user_agent: { original: 'Mozilla/4.0 (compatible; MSIE 2.0; Windows NT 5.0; Trident/4.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0)' },
    }, 187_535, null],
    ['http TSV of an older Zeek (no version column)', 'stratosphere-zeek/009-zeek-malicious/data/http.log.labeled', 'Cjaazc3XueL18CGpgf', {
      event: { ...HTTP, outcome: 'success' },
      source: { ip: '192.168.1.113', port: 49159 }, destination: { ip: '195.113.232.73', port: 80 },
      network: { transport: 'tcp', protocol: 'http' }, zeek: { log: 'http', uid: 'Cjaazc3XueL18CGpgf' },
      related: { ip: ['192.168.1.113', '195.113.232.73'] },
      url: { original: '/ncsi.txt', path: '/ncsi.txt', domain: 'www.msftncsi.com' },
      http: { request: { method: 'GET', bytes: 0 }, response: { status_code: 200, bytes: 14 } },
      user_agent: { original: 'Microsoft NCSI' },
    }, 19_503, null],
    ['ssh TSV, failed after 2 attempts', 'stratosphere-zeek/006-zeek-scenario-ssh/ssh.log', 'CMK66u4MdJVidwAYF3', {
      event: { ...SSH, outcome: 'failure' },
      source: { ip: '2001:718:2:1663::1ce', port: 50980 }, destination: { ip: '2001:718:2:1663:2d1c:6afd:7fc2:31f8', port: 902 },
      network: { transport: 'tcp', protocol: 'ssh' }, zeek: { log: 'ssh', uid: 'CMK66u4MdJVidwAYF3' },
      related: { ip: ['2001:718:2:1663::1ce', '2001:718:2:1663:2d1c:6afd:7fc2:31f8'] }, ssh: { attempts: 2 },
    }, 1_595_853_891_472, 'SSH client SSH-2.0-OpenSSH_7.2p2 Ubuntu-4ubuntu2.8, server SSH-2.0-OpenSSH_7.9p1 Raspbian-10+deb10u2'],
    ['ssh JSON without auth_success: outcome unknown', 'stratosphere-zeek/004-zeek-scenario-ssh/ssh.log', 'Cwtxtq4rKuveCASE9b', {
      event: { ...SSH, outcome: 'unknown' },
      source: { ip: '10.0.83.193', port: 33728 }, destination: { ip: '172.16.1.49', port: 22 },
      network: { transport: 'tcp', protocol: 'ssh', direction: 'inbound' }, zeek: { log: 'ssh', uid: 'Cwtxtq4rKuveCASE9b' },
      related: { ip: ['10.0.83.193', '172.16.1.49'] }, ssh: { attempts: 0 },
    }, 1_663_683_561_702, 'SSH client SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5'],
    ['ssh JSON with _path, succeeded', 'zeek-wrccdc2018/zeek-json/ssh.json', 'C2MugGdsn3ZVI1wn6', {
      event: { ...SSH, outcome: 'success' },
      source: { ip: '10.0.0.227', port: 59849 }, destination: { ip: '10.47.8.50', port: 22 },
      network: { transport: 'tcp', protocol: 'ssh' }, zeek: { log: 'ssh', uid: 'C2MugGdsn3ZVI1wn6' },
      related: { ip: ['10.0.0.227', '10.47.8.50'] }, ssh: { attempts: 1 },
    }, 1_521_911_799_739, 'SSH client SSH-2.0-OpenSSH_7.6, server SSH-2.0-OpenSSH_7.4p1 Raspbian-10+deb9u3'],
    ['ssl TSV with SNI', 'stratosphere-zeek/011-zeek-mixed/data/ssl.log.labeled', 'CKLUI72wPcom220303', {
      event: { ...SSL, outcome: 'success' },
      source: { ip: '147.32.83.165', port: 56894 }, destination: { ip: '17.142.171.5', port: 443 },
      network: { transport: 'tcp', protocol: 'ssl' }, zeek: { log: 'ssl', uid: 'CKLUI72wPcom220303' },
      related: { ip: ['147.32.83.165', '17.142.171.5'] },
      tls: { version: '1.2', cipher: 'TLS_RSA_WITH_AES_128_GCM_SHA256', established: true, server: { name: 'gsp64-ssl.ls.apple.com' } },
    }, 1_655_109_197_788, null],
    ['ssl TSV, not established', 'stratosphere-zeek/011-zeek-mixed/data/ssl.log.labeled', 'CYo6733t1oz7cbG9Ek', {
      event: { ...SSL, outcome: 'failure' },
      source: { ip: '147.32.83.165', port: 56898 }, destination: { ip: '17.164.1.38', port: 443 },
      network: { transport: 'tcp', protocol: 'ssl' }, zeek: { log: 'ssl', uid: 'CYo6733t1oz7cbG9Ek' },
      related: { ip: ['147.32.83.165', '17.164.1.38'] },
      tls: { established: false, server: { name: 'lcdn-locator.apple.com' } },
    }, 1_655_109_197_873, null],
    ['ssl JSON', 'zeek-wrccdc2018/zeek-json/ssl.json', 'CmC9kY1X0u9nP78KZc', {
      event: { ...SSL, outcome: 'success' },
      source: { ip: '10.164.94.120', port: 39611 }, destination: { ip: '10.47.3.200', port: 443 },
      network: { transport: 'tcp', protocol: 'ssl' }, zeek: { log: 'ssl', uid: 'CmC9kY1X0u9nP78KZc' },
      related: { ip: ['10.164.94.120', '10.47.3.200'] },
      tls: { version: '1.0', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', established: true },
    }, 1_521_911_720_615, null],
    ['notice TSV', 'stratosphere-zeek/008-zeek-mixed/data/notice.log.labeled', 'Cdfwi33KjHcaWNo1Dk', {
      event: NOTICE,
      source: { ip: '167.94.145.57', port: 43208 }, destination: { ip: '147.32.81.167', port: 8008 },
      network: { transport: 'tcp' }, zeek: { log: 'notice', uid: 'Cdfwi33KjHcaWNo1Dk', note: 'ProtocolDetector::Protocol_Found' },
      related: { ip: ['167.94.145.57', '147.32.81.167'] }, rule: { name: 'ProtocolDetector::Protocol_Found' },
    }, 1_655_074_120_049, '167.94.145.57:43208 > 147.32.81.167:8008 HTTP on port 8008/tcp'],
    ['notice TSV about a host, not a connection (src and p)', 'stratosphere-zeek/009-zeek-malicious/data/notice.log.labeled', 'Scan::Address_Scan', {
      event: NOTICE,
      source: { ip: '192.168.1.113' }, destination: { port: 443 },
      network: { transport: 'tcp' }, zeek: { log: 'notice', note: 'Scan::Address_Scan' },
      related: { ip: ['192.168.1.113'] }, rule: { name: 'Scan::Address_Scan' },
    }, 233_597, '192.168.1.113 scanned at least 25 unique hosts on port 443/tcp in 0m26s'],
    ['notice JSON', 'zeek-wrccdc2018/zeek-json/notice.json', 'CmC9kY1X0u9nP78KZc', {
      event: NOTICE,
      source: { ip: '10.164.94.120', port: 39611 }, destination: { ip: '10.47.3.200', port: 443 },
      network: { transport: 'tcp' }, zeek: { log: 'notice', uid: 'CmC9kY1X0u9nP78KZc', note: 'SSL::Invalid_Server_Cert' },
      related: { ip: ['10.164.94.120', '10.47.3.200'] }, rule: { name: 'SSL::Invalid_Server_Cert' },
    }, 1_521_911_720_629, 'SSL certificate validation failed with (unable to get local issuer certificate)'],
    ['weird TSV without a connection', 'stratosphere-zeek/009-zeek-malicious/data/weird.log.labeled', 'truncated_link_header', {
      event: WEIRD, zeek: { log: 'weird', name: 'truncated_link_header' },
    }, 0, 'truncated_link_header'],
    ['weird TSV', 'zeek-wrccdc2018/zeek-default/weird.log', 'CsPzgh4tp5lHBTnsrf', {
      event: WEIRD,
      source: { ip: '10.47.1.152', port: 49562 }, destination: { ip: '23.217.103.245', port: 80 },
      zeek: { log: 'weird', uid: 'CsPzgh4tp5lHBTnsrf', name: 'TCP_ack_underflow_or_misorder' },
      related: { ip: ['10.47.1.152', '23.217.103.245'] },
    }, 1_521_911_720_600, 'TCP_ack_underflow_or_misorder'],
    ['weird JSON', 'zeek-wrccdc2018/zeek-json/weird.json', 'CsPzgh4tp5lHBTnsrf', {
      event: WEIRD,
      source: { ip: '10.47.1.152', port: 49562 }, destination: { ip: '23.217.103.245', port: 80 },
      zeek: { log: 'weird', uid: 'CsPzgh4tp5lHBTnsrf', name: 'TCP_ack_underflow_or_misorder' },
      related: { ip: ['10.47.1.152', '23.217.103.245'] },
    }, 1_521_911_720_600, 'TCP_ack_underflow_or_misorder'],
    ['files TSV: from the sending to the receiving host', 'stratosphere-zeek/009-zeek-malicious/data/files.log.labeled', 'FPOBog3s5F5B3S9Mzd', {
      event: { category: ['file'], type: ['info'], action: 'zeek_files', dataset: 'zeek.files', outcome: 'unknown' },
      source: { ip: '195.113.232.73' }, destination: { ip: '192.168.1.113' },
      zeek: { log: 'files' }, related: { ip: ['195.113.232.73', '192.168.1.113'] },
    }, 19_504, null],
    ['x509 JSON: a generic event', 'zeek-wrccdc2018/zeek-json/x509.json', '"ts":"2018-03-24T17:15:20.624556Z"', {
      event: { category: ['file'], type: ['info'], action: 'zeek_x509', dataset: 'zeek.x509', outcome: 'unknown' },
      zeek: { log: 'x509' },
    }, 1_521_911_720_624, null],
    ['loaded_scripts TSV: no ts, no connection', 'zeek-wrccdc2018/zeek-default/loaded_scripts.log', '/opt/zeek/share/zeek/base/init-bare.zeek', {
      event: { category: [], type: ['info'], action: 'zeek_loaded_scripts', dataset: 'zeek.loaded_scripts', outcome: 'unknown' },
      zeek: { log: 'loaded_scripts' },
    }, null, null],
  ])('%s', (_name, file, needle, expected, ts, message) => {
    const input = lineOf(file, needle)
    expect(claimsZeek(input)).toBe(true)
    expect(parseZeek(input)).toEqual(expected)
    expect(zeekTimestamp(input)).toBe(ts)
    expect(zeekMessage(input)).toBe(message)
  })

  it('reads a TSV line and the same record as JSON alike', () => {
    const tsv = fixture('zeek-wrccdc2018/zeek-default/dns.log')
    const json = fixture('zeek-wrccdc2018/zeek-json/dns.json')
    expect(tsv).toHaveLength(json.length)
    // JSON writes the (empty) answer vector as [] and the TSV writes TTLs with 6 decimals: the events still agree.
    for (let i = 0; i < tsv.length; i++) {
      const a = parseZeek(tsv[i]!.input)
      const b = parseZeek(json[i]!.input)
      expect({ ...a, event: { ...a!.event, duration: undefined } }).toEqual({ ...b, event: { ...b!.event, duration: undefined } })
      expect(zeekTimestamp(tsv[i]!.input)).toBe(zeekTimestamp(json[i]!.input))
    }
  })

  it('counts conn bytes at the IP level, whether or not Zeek wrote the payload count', () => {
    const file = 'stratosphere-zeek/002-zeek-scenario-port-scanning/conn.log'
    // One ICMP packet: Zeek leaves orig_bytes (payload) unset and writes orig_ip_bytes 56.
    const single = parseZeek(lineOf(file, 'CG03th2rfWi0ctENra'))
    expect(single?.source).toMatchObject({ bytes: 56, packets: 1 })
    expect(single?.network).toMatchObject({ bytes: 56, packets: 1 })
    expect(single?.zeek).not.toHaveProperty('orig_bytes') // the payload count Zeek did not write stays unwritten
    // Four ICMP packets: orig_bytes and resp_bytes 0, orig_ip_bytes and resp_ip_bytes 56 each.
    const echo = parseZeek(lineOf(file, 'Cby6tl14KhaAvYcKTf'))
    expect(echo?.source).toMatchObject({ bytes: 56, packets: 2 })
    expect(echo?.destination).toMatchObject({ bytes: 56, packets: 2 })
    expect(echo?.network).toMatchObject({ bytes: 112, packets: 4 })
    expect(echo?.zeek).toMatchObject({ orig_bytes: 0, resp_bytes: 0 })
  })
})

const CONN_FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes', 'resp_bytes',
  'conn_state', 'local_orig', 'local_resp', 'missed_bytes', 'history', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes', 'tunnel_parents']
const tsvInput = (log: string, fields: string[], values: string[]): ParserInput => {
  const line = values.join('\t')
  return { message: line, appName: null, line, zeek: { log, fields } }
}
const jsonInput = (value: unknown, zeek: ParserInput['zeek'] = null): ParserInput => {
  const line = JSON.stringify(value)
  return { message: line, appName: null, line, zeek }
}
const CONN_JSON = {
  ts: 1700000000.5, uid: 'CAbc', 'id.orig_h': '10.0.0.1', 'id.orig_p': 40000, 'id.resp_h': '10.0.0.2', 'id.resp_p': 22, proto: 'tcp',
  conn_state: 'REJ', orig_pkts: 1, orig_ip_bytes: 44, resp_pkts: 1, resp_ip_bytes: 40,
}

describe('parseZeek on shapes beyond the samples', () => {
  it('takes a notice\'s actor from its src, where the script names one, before its connection\'s originator', () => {
    // signatures/main.zeek: a match in the responder's payload names the responder as src.
    const responderSignature = parseZeek(jsonInput({
      _path: 'notice', ts: 1_700_000_000.5, uid: 'C1', 'id.orig_h': '192.0.2.20', 'id.orig_p': 51234, 'id.resp_h': '198.51.100.7', 'id.resp_p': 80,
      note: 'Signatures::Sensitive_Signature', msg: 'exploit response', src: '198.51.100.7', dst: '192.0.2.20', p: 51234,
    }))!
    expect(responderSignature).toMatchObject({ source: { ip: '198.51.100.7' }, destination: { ip: '192.0.2.20' } })
    // A notice without src keeps its connection's ends.
    const plain = parseZeek(jsonInput({ _path: 'notice', ts: 1.5, uid: 'C2', 'id.orig_h': '192.0.2.1', 'id.orig_p': 1, 'id.resp_h': '192.0.2.2', 'id.resp_p': 22, note: 'SSH::Password_Guessing' }))!
    expect(plain).toMatchObject({ source: { ip: '192.0.2.1', port: 1 }, destination: { ip: '192.0.2.2', port: 22 } })
  })

  it('claims JSON by _path or by a Zeek log wrapper key, and nothing else without Zeek context', () => {
    expect(claimsZeek(jsonInput({ _path: 'conn', ...CONN_JSON }))).toBe(true)
    expect(claimsZeek(jsonInput({ conn: CONN_JSON }))).toBe(true)
    expect(claimsZeek(jsonInput({ notalog: CONN_JSON }))).toBe(false)
    expect(claimsZeek(jsonInput({ conn: CONN_JSON, other: 1 }))).toBe(false)
    expect(claimsZeek(jsonInput(CONN_JSON))).toBe(false)
    expect(claimsZeek(jsonInput({ _path: 'conn\n; rm', ...CONN_JSON }))).toBe(false)
    expect(claimsZeek({ message: '{"_path": broken', appName: null, line: '{"_path": broken', zeek: null })).toBe(false)
    const syslog = '<14>Mar 24 17:15:20 sensor sshd[1]: Accepted password for root from 10.0.0.1 port 22 ssh2'
    expect(claimsZeek({ message: 'Accepted password for root from 10.0.0.1 port 22 ssh2', appName: 'sshd', line: syslog, zeek: null })).toBe(false)
    // Zeek JSON forwarded by a syslog daemon: the message is the record.
    const json = JSON.stringify({ _path: 'conn', ...CONN_JSON })
    const wrapped: ParserInput = { message: json, appName: 'zeek', line: `<14>Mar 24 17:15:20 sensor zeek: ${json}`, zeek: null }
    expect(claimsZeek(wrapped)).toBe(true)
    expect(parseZeek(wrapped)?.event.action).toBe('zeek_conn')
  })

  it('reads a wrapped record like a flat one, and a record whose id is nested', () => {
    const flat = parseZeek(jsonInput(CONN_JSON, { log: 'conn', fields: null }))
    expect(flat).toMatchObject({
      event: { action: 'zeek_conn', outcome: 'failure' },
      source: { ip: '10.0.0.1', port: 40000, bytes: 44, packets: 1 }, destination: { ip: '10.0.0.2', port: 22, bytes: 40, packets: 1 },
      network: { transport: 'tcp', bytes: 84, packets: 2 },
    })
    expect(parseZeek(jsonInput({ conn: CONN_JSON }))).toEqual(flat)
    expect(parseZeek(jsonInput({ conn: CONN_JSON }, { log: 'conn', fields: null }))).toEqual(flat)
    const { 'id.orig_h': oh, 'id.orig_p': op, 'id.resp_h': rh, 'id.resp_p': rp, ...rest } = CONN_JSON
    expect(parseZeek(jsonInput({ ...rest, id: { orig_h: oh, orig_p: op, resp_h: rh, resp_p: rp } }, { log: 'conn', fields: null }))).toEqual(flat)
    expect(zeekTimestamp(jsonInput({ conn: CONN_JSON }))).toBe(1_700_000_000_500)
  })

  it.each<[string, string]>([
    ['SF', 'success'], ['S1', 'success'], ['RSTO', 'success'], ['RSTR', 'success'], ['S0', 'failure'], ['REJ', 'failure'], ['RSTOS0', 'failure'],
    ['SH', 'failure'], ['SHR', 'unknown'], ['OTH', 'unknown'], ['RSTRH', 'unknown'],
  ])('conn_state %s is outcome %s', (state, outcome) => {
    expect(parseZeek(jsonInput({ ...CONN_JSON, conn_state: state }, { log: 'conn', fields: null }))?.event.outcome).toBe(outcome)
  })

  it('reads TSV escapes, unset and empty values, and sets', () => {
    const fields = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'method', 'host', 'uri', 'user_agent', 'status_code', 'username', 'tags']
    const input = tsvInput('http', fields, ['1.5', 'C1', '10.0.0.1', '1234', '10.0.0.2', '8080', 'GET', 'example.com:8080',
      '/a\\x09b?q=1&r=\\xe2\\x82\\xac', 'curl\\x5c7', '404', '(empty)', 'a,b'])
    expect(parseZeek(input)).toEqual({
      event: { ...HTTP, outcome: 'failure' },
      source: { ip: '10.0.0.1', port: 1234 }, destination: { ip: '10.0.0.2', port: 8080 },
      network: { transport: 'tcp', protocol: 'http' }, zeek: { log: 'http', uid: 'C1' },
      related: { ip: ['10.0.0.1', '10.0.0.2'] },
      url: { original: '/a\tb?q=1&r=€', path: '/a\tb', query: 'q=1&r=€', domain: 'example.com' },
      http: { request: { method: 'GET' }, response: { status_code: 404 } },
      user_agent: { original: 'curl\\7' },
    })
    expect(zeekTimestamp(input)).toBe(1500)
    const dns = tsvInput('dns', ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'query', 'answers'],
      ['1', 'C2', '10.0.0.1', '5353', '10.0.0.2', '53', 'x\\x2cy.example', 'a.example,10.1.1.1\\x2c']).line
    expect(parseZeek({ message: dns, appName: null, line: dns, zeek: { log: 'dns', fields: ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'query', 'answers'] } })?.dns)
      .toEqual({ question: { name: 'x,y.example' }, answers: ['a.example', '10.1.1.1,'] })
  })

  it('splits absolute and CONNECT URIs', () => {
    const http = (uri: string, method = 'GET') => parseZeek(jsonInput({ ...CONN_JSON, method, uri, host: '[2001:db8::1]:8443' }, { log: 'http', fields: null }))
    expect(http('http://proxy.example/x/y?z#frag')?.url).toEqual({ original: 'http://proxy.example/x/y?z#frag', path: '/x/y', query: 'z', domain: '2001:db8::1' })
    expect(http('example.org:443', 'CONNECT')?.url).toEqual({ original: 'example.org:443', domain: '2001:db8::1' })
    expect(http('/only?')?.url).toEqual({ original: '/only?', path: '/only', domain: '2001:db8::1' })
  })

  it('maps TLS versions to their number and keeps unknown ones', () => {
    const version = (v: string) => parseZeek(jsonInput({ ...CONN_JSON, version: v }, { log: 'ssl', fields: null }))?.tls?.version
    expect([version('TLSv13'), version('TLSv10'), version('SSLv3'), version('DTLSv12'), version('unknown-64282')]).toEqual(['1.3', '1.0', '3.0', '1.2', 'unknown-64282'])
  })

  it('returns null for a line it cannot read', () => {
    expect(parseZeek(tsvInput('conn', CONN_FIELDS, ['1', 'C1', '10.0.0.1']))).toBeNull() // field count differs from the header
    expect(parseZeek(tsvInput('conn', [], ['']))).toBeNull()
    expect(parseZeek(jsonInput([1, 2], { log: 'conn', fields: null }))).toBeNull()
    expect(parseZeek({ message: 'not json', appName: null, line: 'not json', zeek: { log: 'conn', fields: null } })).toBeNull()
    expect(parseZeek(jsonInput({ ts: 1, uid: 'C' }, { log: 'conn', fields: null }))).toBeNull() // conn without endpoints
    expect(parseZeek(jsonInput({ ts: 1 }, { log: 'notice', fields: null }))).toBeNull() // notice without note
    expect(parseZeek(jsonInput({ ts: 1 }, { log: 'weird', fields: null }))).toBeNull()
    expect(parseZeek(jsonInput({ ts: 1 }, { log: '../etc', fields: null }))).toBeNull()
    expect(parseZeek(jsonInput({ ts: 1 }, { log: 'custom_log', fields: null }))?.event.action).toBe('zeek_custom_log')
  })

  it('drops values that do not fit their field', () => {
    const odd = parseZeek(jsonInput({
      ...CONN_JSON, 'id.orig_p': 70000, 'id.resp_p': -1, orig_ip_bytes: 2 ** 60, resp_ip_bytes: '12', duration: -3, ts: 'yesterday',
    }, { log: 'conn', fields: null }))
    expect(odd?.source).toEqual({ ip: '10.0.0.1', packets: 1 })
    expect(odd?.destination).toEqual({ ip: '10.0.0.2', bytes: 12, packets: 1 })
    expect(odd?.event.duration).toBeUndefined()
    expect(parseZeek(jsonInput({ ts: 1, name: 'x', 'id.orig_h': 'not an ip', 'id.orig_p': 5 }, { log: 'weird', fields: null }))?.source).toEqual({ port: 5 })
    expect(parseZeek(jsonInput({ ...CONN_JSON, 'id.orig_h': 'not an ip' }, { log: 'conn', fields: null }))).toBeNull()
    expect(zeekTimestamp(jsonInput({ ...CONN_JSON, ts: 'yesterday' }, { log: 'conn', fields: null }))).toBeNull()
    expect(zeekTimestamp(jsonInput({ ...CONN_JSON, ts: 1e300 }, { log: 'conn', fields: null }))).toBeNull()
  })

  it('leaves conn bytes unset when the IP-level count is, rather than taking the payload count', () => {
    const { orig_ip_bytes: _o, resp_ip_bytes: _r, ...payloadOnly } = { ...CONN_JSON, orig_bytes: 4, resp_bytes: 0 }
    const fields = parseZeek(jsonInput(payloadOnly, { log: 'conn', fields: null }))
    expect(fields?.source).toEqual({ ip: '10.0.0.1', port: 40000, packets: 1 })
    expect(fields?.destination).toEqual({ ip: '10.0.0.2', port: 22, packets: 1 })
    expect(fields?.network).toEqual({ transport: 'tcp', packets: 2 })
  })
})

describe('parseZeek never throws (properties)', () => {
  const realLines = samples.filter((_, i) => i % 7 === 0)
  const KNOWN = ['conn', 'dns', 'http', 'ssh', 'ssl', 'notice', 'weird', 'files', 'x509', 'custom']

  function check(input: ParserInput): void {
    const claimed = claimsZeek(input)
    const fields = parseZeek(input)
    const ts = zeekTimestamp(input)
    const message = zeekMessage(input)
    expect(typeof claimed).toBe('boolean')
    if (fields !== null) {
      expect(fields.event.action).toMatch(/^zeek_/)
      expect(avroProblems(asEcs(fields, input))).toEqual([])
    }
    expect(ts === null || Number.isSafeInteger(ts)).toBe(true)
    expect(message === null || typeof message === 'string').toBe(true)
  }

  it('on random lines with and without Zeek context', () => {
    const context = fc.option(fc.record({
      log: fc.oneof(fc.constantFrom(...KNOWN), fc.string()),
      fields: fc.option(fc.oneof(fc.constant(CONN_FIELDS), fc.array(fc.oneof(fc.constantFrom(...CONN_FIELDS), fc.string()))), { nil: null }),
    }), { nil: null })
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), context, (line, zeek) => {
      check({ message: line, appName: null, line, zeek })
    }), { numRuns: 2000 })
  }, 60_000)

  it('on random JSON records of each log type', () => {
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom('-', '(empty)', 'T', 'F', '1e400', '65536', '10.0.0.1', '\\x09'))
    const record = fc.dictionary(fc.oneof(fc.constantFrom(...CONN_FIELDS, 'query', 'answers', 'status_code', 'uri', 'host', 'auth_success',
      'auth_attempts', 'version', 'established', 'server_name', 'note', 'msg', 'src', 'dst', 'p', 'name', 'addl', 'tx_hosts', 'id', '_path'), fc.string()), value)
    fc.assert(fc.property(record, fc.constantFrom(...KNOWN), fc.boolean(), (object, log, wrap) => {
      check(jsonInput(wrap ? { [log]: object } : { _path: log, ...object }))
      check(jsonInput(object, { log, fields: null }))
    }), { numRuns: 2000 })
  }, 60_000)

  it('on mutated real lines', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.string(), fc.constantFrom('\t', '\\x', '\\xzz', '"', '{', '-', ',', '\t-\t')) }),
      fc.record({ kind: fc.constant('field' as const), at: fc.nat(), text: fc.oneof(fc.string(), fc.constantFrom('-', '(empty)', '1e999', '-5', 'NaN', '99999999999999999999')) }),
    )
    fc.assert(fc.property(fc.constantFrom(...realLines), fc.array(mutation, { minLength: 1, maxLength: 4 }), ({ input }, mutations) => {
      let line = input.line
      for (const m of mutations) {
        if (m.kind === 'cut') line = line.slice(0, m.at % (line.length + 1)) + line.slice((m.at % (line.length + 1)) + m.length)
        else if (m.kind === 'insert') line = line.slice(0, m.at % (line.length + 1)) + m.text + line.slice(m.at % (line.length + 1))
        else {
          const sep = input.zeek?.fields ? '\t' : ','
          const parts = line.split(sep)
          parts[m.at % parts.length] = input.zeek?.fields ? m.text : `"k":${JSON.stringify(m.text)}`
          line = parts.join(sep)
        }
      }
      check({ ...input, line, message: line })
    }), { numRuns: 3000 })
  }, 60_000)
})
