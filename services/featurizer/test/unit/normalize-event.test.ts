import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import type { DeliveredMessage } from '@vigil/platform'
import type { RawLog, SyslogHeader } from '@vigil/schemas'
import { carriedText, entityOf, FUTURE_TOLERANCE_MS, LOOPBACK_NAMES, LOOPBACK_NETWORKS, LOOPBACK_SUFFIX, MAX_CARRIED_LINE_BYTES, normalizeEvent } from '../../src/normalize-event.ts'
import { createSourceTimeZones } from '../../src/source-time-zones.ts'

const ARRIVED = Date.UTC(2025, 11, 10, 12, 0, 0)

function delivered(header: Partial<SyslogHeader> & { message: string }, line = `<38>1 - web1 sshd - - - ${header.message}`): DeliveredMessage<RawLog> {
  return {
    value: {
      line, receivedAt: ARRIVED, transport: 'syslog-udp', peer: '192.0.2.1:514',
      syslog: { format: 'RFC5424', facility: 4, severity: 6, hostname: 'web1', appName: 'sshd', procId: null, msgId: null, structuredData: [], ...header },
    },
    key: 'web1', topic: 'raw-logs', partition: 0, offset: '7', timestamp: ARRIVED, headers: {},
  }
}

const FAILED = 'Failed password for root from 203.0.113.5 port 2222 ssh2'
/** Vigil's rules of one file of services/alerter/rules/vigil, as parsed YAML. */
const vigilRules = (file: string) => parseAllDocuments(readFileSync(fileURLToPath(new URL(`../../../alerter/rules/vigil/${file}`, import.meta.url)), 'utf8'))
  .map((d) => d.toJS() as { name?: string; detection?: Record<string, unknown> })
const detectionOf = (file: string, name: string) => vigilRules(file).find((r) => r.name === name)!.detection!
const NAMED_EVENT = normalizeEvent(delivered({ message: FAILED })).ecs

describe('normalizeEvent', () => {
  it('keeps a line\'s own time up to the tolerance after its arrival, and dates one later than that at its arrival', () => {
    const slightlyAhead = normalizeEvent(delivered({ timestamp: new Date(ARRIVED + FUTURE_TOLERANCE_MS).toISOString(), message: FAILED }))
    expect(slightlyAhead).toMatchObject({ datedAhead: false, ecs: { timestamp: ARRIVED + FUTURE_TOLERANCE_MS } })

    const forged = normalizeEvent(delivered({ timestamp: '2099-01-01T00:00:00Z', message: FAILED }))
    expect(forged).toMatchObject({ datedAhead: true, ecs: { timestamp: ARRIVED, event: { action: 'ssh_login_failed' } } })
    expect(forged.ecs.event.original).toContain(FAILED)

    const past = normalizeEvent(delivered({ timestamp: '2025-12-01T00:00:00Z', message: FAILED }))
    expect(past).toMatchObject({ datedAhead: false, ecs: { timestamp: Date.UTC(2025, 11, 1) } })
  })

  it('dates a line that says it is older than the Unix epoch at its arrival (a Zeek ts of -9e12 is a number like any other)', () => {
    const line = JSON.stringify({ _path: 'conn', ts: -9e12, uid: 'C1', 'id.orig_h': '203.0.113.5', 'id.orig_p': 1, 'id.resp_h': '192.0.2.9', 'id.resp_p': 22, proto: 'tcp' })
    const event = normalizeEvent({ ...delivered({ message: line }, line), value: { line, receivedAt: ARRIVED, transport: 'zeek-tcp', peer: null } })
    expect(event).toMatchObject({ family: 'zeek', parsed: true, ecs: { timestamp: ARRIVED } })
    const sane = JSON.parse(line)
    sane.ts = 1_700_000_000.5
    const dated = normalizeEvent({ ...delivered({ message: '' }), value: { line: JSON.stringify(sane), receivedAt: ARRIVED, transport: 'zeek-tcp', peer: null } })
    expect(dated.ecs.timestamp).toBe(1_700_000_000_500)
  })

  it('reads times written without a zone in the sender\'s zone, and times with one as written', () => {
    // One request of a host in UTC-5 (sotm34-honeynet), logged three ways.
    const zones = createSourceTimeZones('UTC', { combo: 'America/New_York' })
    const arrived = Date.UTC(2005, 1, 27, 12)
    const at = (line: string, header: Partial<SyslogHeader> | null) => {
      const message = delivered({ message: line, ...header }, line)
      message.value.receivedAt = arrived
      if (header === null) message.value.syslog = null
      return new Date(normalizeEvent(message, zones).ecs.timestamp).toISOString()
    }
    const access = '68.42.30.57 - - [27/Feb/2005:04:06:21 -0500] "GET / HTTP/1.1" 200 5 "-" "-"'
    expect(at(access, null)).toBe('2005-02-27T09:06:21.000Z')
    expect(at('[Sun Feb 27 04:06:23 2005] [error] [client 68.42.30.57] File does not exist: /var/www/html/x', { appName: 'httpd', hostname: 'combo', timestamp: null })).toBe('2005-02-27T09:06:23.000Z')
    expect(at('Failed password for root from 68.42.30.57 port 2222 ssh2', { format: 'RFC3164', hostname: 'combo', timestamp: 'Feb 27 04:06:25' })).toBe('2005-02-27T09:06:25.000Z')
    // Another host: UTC, the default; an RFC 5424 time keeps its own offset.
    expect(at('Failed password for root from 68.42.30.57 port 2222 ssh2', { format: 'RFC3164', hostname: 'other', timestamp: 'Feb 27 04:06:25' })).toBe('2005-02-27T04:06:25.000Z')
    expect(at('Failed password for root from 68.42.30.57 port 2222 ssh2', { hostname: 'combo', timestamp: '2005-02-27T04:06:25-05:00' })).toBe('2005-02-27T09:06:25.000Z')
  })

  it('writes an IPv4-mapped IPv6 client as IPv4, so one client is one entity', () => {
    const line = '::ffff:198.51.100.7 - - [10/Dec/2025:11:59:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"'
    const event = normalizeEvent(delivered({ appName: 'nginx', timestamp: null, message: line }))
    expect(event).toMatchObject({ family: 'web', entity: { kind: 'source.ip', id: '198.51.100.7' }, ecs: { source: { ip: '198.51.100.7' } } })
  })

  it('reads the lines of OpenSSH 9.8 on, which logs each connection as sshd-session (10.0\'s authentication as sshd-auth), as sshd\'s', () => {
    for (const appName of ['sshd-session', 'sshd-auth']) {
      expect(normalizeEvent(delivered({ appName, procId: '4711', message: FAILED }))).toMatchObject({
        family: 'sshd', entity: { kind: 'source.ip', id: '203.0.113.5' }, ecs: { event: { action: 'ssh_login_failed' }, process: { name: appName, pid: 4711 } },
      })
    }
  })

  it('writes IPv6 in its short form, as Zeek does and netfilter does not, so one address is one entity and one Sigma group', () => {
    const message = '[UFW BLOCK] IN=eth0 OUT= SRC=2001:0DB8:0000:0000:0000:0000:0000:0007 DST=2001:0718:0002:1663:0000:0000:0000:01ce LEN=80 PROTO=TCP SPT=40000 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0'
    const event = normalizeEvent(delivered({ appName: 'kernel', message }))
    expect(event).toMatchObject({ family: 'firewall', entity: { kind: 'source.ip', id: '2001:db8::7' }, ecs: { source: { ip: '2001:db8::7' }, destination: { ip: '2001:718:2:1663::1ce' } } })
    const mapped = '[UFW BLOCK] IN=eth0 OUT= SRC=0000:0000:0000:0000:0000:ffff:c000:0201 DST=::1 LEN=80 PROTO=UDP SPT=1 DPT=2'
    expect(normalizeEvent(delivered({ appName: 'kernel', message: mapped })).ecs.source).toEqual({ ip: '192.0.2.1', port: 1 })
    // sshd writes a link-local client with its zone, Zeek without: the zone is the logging host's interface
    const zoned = normalizeEvent(delivered({ message: 'Failed password for root from FE80::0001%eth0 port 2222 ssh2' }))
    expect(zoned.entity).toEqual({ kind: 'source.ip', id: 'fe80::1' })
  })

  it('files a client its line names only by host name under that name, not under the host that logged it', () => {
    // loghub's Linux sample: sshd resolved the client's name, and pam_unix wrote it as rhost.
    const pam = (rhost: string) => normalizeEvent(delivered({
      format: 'RFC3164', hostname: 'combo', appName: 'sshd(pam_unix)', procId: '16207', timestamp: 'Jun 22 03:17:26',
      message: `authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=${rhost}  user=root`,
    }))
    expect(pam('n219076184117.netvigator.com')).toMatchObject({
      family: 'sshd', entity: { kind: 'source.domain', id: 'n219076184117.netvigator.com' }, ecs: { source: { domain: 'n219076184117.netvigator.com' } },
    })
    // One client, one spelling, in the entity and in the event the rules group by.
    for (const spelling of ['Mail.Example.ORG', 'mail.example.org.']) {
      expect(pam(spelling)).toMatchObject({ entity: { kind: 'source.domain', id: 'mail.example.org' }, ecs: { source: { domain: 'mail.example.org' } } })
    }
    expect(pam('150.183.249.110').entity).toEqual({ kind: 'source.ip', id: '150.183.249.110' })
    // Every host's name for itself is no client: its lines stay the host's.
    for (const self of ['localhost', 'LOCALHOST.', 'localhost.localdomain', 'localhost6.localdomain6', 'ip6-localhost', 'db.localhost']) expect(pam(self).entity).toEqual({ kind: 'host.name', id: 'combo' })
    // An access log written with HostnameLookups on.
    const line = 'crawl-66-249-66-1.googlebot.com - - [10/Dec/2025:11:59:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"'
    expect(normalizeEvent(delivered({ appName: 'apache', timestamp: null, message: line })).entity).toEqual({ kind: 'source.domain', id: 'crawl-66-249-66-1.googlebot.com' })
  })

  it('leaves out of its entities the loopback names the alerter\'s named-source rule leaves out, and no others', () => {
    const rules = vigilRules('ssh-brute-force.yml')
    const named = [...['vigil_ssh_login_failed_named_source', 'vigil_ssh_login_failed_loopback'].map((name) => rules.find((r) => r.name === name)!.detection!),
      detectionOf('web-scan.yml', 'vigil_web_client_error')]
    for (const detection of named) {
      const [exact, suffix] = detection.loopback_name as [Record<string, string[]>, Record<string, string>]
      expect(new Set(exact!['source.domain'])).toEqual(LOOPBACK_NAMES)
      expect(suffix!['source.domain|endswith']).toBe(LOOPBACK_SUFFIX)
    }
    const kindOf = (name: string) => entityOf({ ...NAMED_EVENT, source: { domain: name } }).kind
    for (const name of [...LOOPBACK_NAMES, `db${LOOPBACK_SUFFIX}`]) expect(kindOf(name)).toBe('host.name')
    expect(kindOf('localhost.example.org')).toBe('source.domain')
  })

  it('files a line from the host\'s own address under the host, as the failed-login rule leaves those networks out', () => {
    const rules = vigilRules('ssh-brute-force.yml')
    for (const name of ['vigil_ssh_login_failed', 'vigil_ssh_login_failed_loopback']) {
      const loopback = rules.find((r) => r.name === name)!.detection!.loopback_address as Record<string, string[]>
      expect(loopback['source.ip|cidr']).toEqual([...LOOPBACK_NETWORKS])
    }
    // and the scan rules
    for (const [file, name] of [['ssh-scan.yml', 'vigil_ssh_no_handshake'], ['web-scan.yml', 'vigil_web_client_error']] as const) {
      expect((detectionOf(file, name).loopback_address as Record<string, string[]>)['source.ip|cidr'], file).toEqual([...LOOPBACK_NETWORKS])
    }
    // A server behind a proxy on its own host: every client is 127.0.0.1 (or ::1, or mapped).
    const behindProxy = (client: string) => normalizeEvent(delivered({ appName: 'apache', timestamp: null, message: `${client} - - [10/Dec/2025:11:59:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"` }))
    for (const client of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) expect(behindProxy(client).entity).toEqual({ kind: 'host.name', id: 'web1' })
    // Mapped IPv4 in hex is written as the IPv4 it is, in the event the rules test too.
    expect(behindProxy('::FFFF:c633:6407')).toMatchObject({ entity: { kind: 'source.ip', id: '198.51.100.7' }, ecs: { source: { ip: '198.51.100.7' } } })
    expect(behindProxy('128.0.0.1').entity).toEqual({ kind: 'source.ip', id: '128.0.0.1' })
    expect(behindProxy('::2').entity).toEqual({ kind: 'source.ip', id: '::2' })
  })

  it('keeps a PROCID that does not fit process.pid in the line only', () => {
    expect(normalizeEvent(delivered({ procId: '24200', message: FAILED })).ecs.process).toEqual({ name: 'sshd', pid: 24200 })
    expect(normalizeEvent(delivered({ procId: '3000000000', message: FAILED })).ecs.process).toEqual({ name: 'sshd' })
    expect(normalizeEvent(delivered({ procId: '-5', message: FAILED })).ecs.process).toEqual({ name: 'sshd' })
  })

  it('carries a line longer than MAX_CARRIED_LINE_BYTES cut, with a mark naming where the whole line is, and shorter lines whole', () => {
    const line = `<38>1 - web1 sshd - - - ${FAILED} ${'A'.repeat(600_000)}`
    const event = normalizeEvent(delivered({ message: `${FAILED} ${'A'.repeat(600_000)}` }, line))
    expect(event.ecs.event.original).toBe(`${line.slice(0, MAX_CARRIED_LINE_BYTES)}…[cut at ${MAX_CARRIED_LINE_BYTES} of ${line.length} bytes; whole line at raw-logs/0/7]`)
    expect(event.ecs.message).toMatch(/…\[cut at 262144 of 600\d{3} bytes; whole line at raw-logs\/0\/7\]$/)
    // a 600 KB line made a features record of more than 1 MB, which the broker refuses
    expect(Buffer.byteLength(JSON.stringify(event.ecs))).toBeLessThan(600_000)

    const short = `${FAILED} ${'é'.repeat(1000)}`
    expect(normalizeEvent(delivered({ message: short })).ecs.message).toBe(short)
    // cut by UTF-8 bytes, never inside a character
    const wide = carriedText('€'.repeat(200_000), { topic: 'raw-logs', partition: 1, offset: '2' })
    expect(wide.startsWith('€'.repeat(Math.floor(MAX_CARRIED_LINE_BYTES / 3)) + '…[cut at')).toBe(true)
  })
})
