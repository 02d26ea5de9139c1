import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { TransientError } from '@vigil/platform'
import { createMemoryCorrelationState, createSigmaEngine, type CorrelationState } from '@vigil/sigma'
import type { FeatureRecord, Score } from '@vigil/schemas'
import { REPO_ROOT } from '@vigil/testkit'
import { createCorrelationFeed } from '../../src/rules/correlation-feed.ts'
import { mergeFlags } from '../../src/rules/flagged-entities.ts'
import { handleFeatureRecords, handleScoreRecords, type SigmaDeps } from '../../src/rules/handle-sigma-events.ts'
import { quoteOf } from '../../src/rules/sigma-alerts.ts'
import { DEFAULT_RULE_DIRS, loadRules, ruleCounts } from '../../src/rules/rule-set.ts'
import { delivered, failedLogin, memoryFlags, memoryRaiseDeps, sshdRecord, webRecord } from './rules-fakes.ts'
import { syslogRecords, zeekRecords } from './real-records.ts'

const quiet = { info: () => {}, debug: () => {} }
const rules = loadRules(DEFAULT_RULE_DIRS, quiet)
const BRUTE_FORCE = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c02'
const SSHD_ERROR = 'e76b413a-83d0-4b94-8e4c-85db4a5b8bdc' // SigmaHQ: Suspicious OpenSSH Daemon Error
const ANOMALY_THEN_LOGIN = '8f3c2a4e-1d5b-4c6e-9a7f-2b1e0c9d8a03' // packages/sigma/rules/vigil

function alerter() {
  const raise = memoryRaiseDeps()
  const flags = memoryFlags()
  const counted: Record<string, number> = {}
  const deps: SigmaDeps = {
    ...raise.deps,
    engine: createSigmaEngine(rules.set),
    correlations: createCorrelationFeed(rules.set.correlations, createMemoryCorrelationState()),
    flags, version: rules.version, windowMs: 600_000, maxEvidence: 10,
    matches: { inc: ({ kind }, n = 1) => void (counted[kind] = (counted[kind] ?? 0) + n) },
    now: () => 0,
  }
  return { ...raise, deps, flags, counted }
}

/** The alerts a fresh alerter raises for a batch: detector, entity kind and id, severity. */
const alertsOf = async (records: FeatureRecord[]) =>
  (await handleFeatureRecords(delivered(records), alerter().deps)).map((x) => [x.detector, x.entity.kind, x.entity.id, x.severity])

const A = '183.62.140.253'
const B = '5.36.59.76'
const batch = [
  ...Array.from({ length: 12 }, (_, i) => failedLogin(i, i * 20, A)),
  sshdRecord(50, 30, B, 'ssh_disconnect', `Dec 10 06:56:16 LabSZ sshd[24300]: Corrupted MAC on input. [preauth]`),
].sort((a, b) => a.eventTime - b.eventTime)

describe('the default rule set', () => {
  it('loads everything in it, and counts it per rule set for the metrics', () => {
    expect(rules.set.skipped).toEqual([])
    expect(rules.version).toMatch(/^sigma@[0-9a-f]{12}$/)
    const counts = ruleCounts(rules.report)
    const total = (state: string) => counts.filter((c) => c.state === state).reduce((n, c) => n + c.rules, 0)
    expect(total('loaded')).toBe(rules.set.detections.length)
    expect(total('correlation')).toBe(11)
    expect(counts).toContainEqual({ ruleSet: 'vigil/linux', state: 'correlation', rules: 5 })
  })
})

describe('features → Sigma alerts', () => {
  it('raises an alert per alerting rule hit and fired correlation, flags the entities, and publishes and notifies each once', async () => {
    const a = alerter()
    const published = await handleFeatureRecords(delivered(batch), a.deps)
    expect(published.map((x) => [x.detector, x.entity.id, x.severity]).sort()).toEqual([
      [`sigma:${BRUTE_FORCE}`, A, 'high'],
      [`sigma:${SSHD_ERROR}`, B, 'medium'],
    ])
    expect(a.published).toEqual(published)
    expect(a.enqueued).toEqual(published)
    expect(published.every((x) => x.modelVersion === rules.version)).toBe(true)
    expect(published.find((x) => x.entity.id === B)!.reasons![0]).toContain('by Florian Roth (Nextron Systems), license DRL-1.1')
    const t0 = batch[0]!.eventTime
    expect(mergeFlags(a.flags.flags)).toEqual([
      { entity: { kind: 'source.ip', id: B }, from: t0 + 30_000, to: t0 + 30_000, reason: 'Suspicious OpenSSH Daemon Error', source: `sigma:${SSHD_ERROR}` },
      { entity: { kind: 'source.ip', id: A }, from: t0 + 180_000 - 300_000, to: t0 + 180_000, reason: 'SSH brute force from one source', source: `sigma:${BRUTE_FORCE}` },
    ])
    expect(a.counted).toEqual({ detection: 13, correlation: 1 })
  })

  it('raises a fired correlation\'s alert when its batch is handled again after storing it failed', async () => {
    const a = alerter()
    const record = a.deps.store.record.bind(a.deps.store)
    let failures = 1
    a.deps.store = {
      ...a.deps.store,
      record: async (...args: Parameters<typeof record>) => {
        if (failures-- > 0) throw new TransientError('ALERT_STORE_UNAVAILABLE', 'postgres: connection terminated')
        return record(...args)
      },
    }
    await expect(handleFeatureRecords(delivered(batch), a.deps)).rejects.toThrow('connection terminated')
    // the consumer holds the batch and hands it over again
    const published = await handleFeatureRecords(delivered(batch), a.deps)
    expect(published.map((x) => x.detector).sort()).toEqual([`sigma:${BRUTE_FORCE}`, `sigma:${SSHD_ERROR}`])
  })

  it('cites the events a correlation counted in earlier batches, and names their users', async () => {
    const a = alerter()
    // ten failures from one source, each user named once, arriving one batch at a time
    const failures = Array.from({ length: 10 }, (_, i) => {
      const record = failedLogin(i, i * 20, A)
      return { ...record, event: { ...record.event, related: { user: [`user${i}`] } } }
    })
    const published = []
    for (const record of failures) published.push(...await handleFeatureRecords(delivered([record]), a.deps))
    const alert = published.find((x) => x.detector === `sigma:${BRUTE_FORCE}`)!
    expect(alert.evidence.map((e) => e.eventId)).toEqual(['raw-logs/0/9', ...Array.from({ length: 9 }, (_, i) => `raw-logs/0/${i}`)])
    expect(alert.evidence[1]).toEqual({ eventId: 'raw-logs/0/0', topic: 'raw-logs', partition: 0, offset: '0', line: failures[0]!.event.event.original, users: ['user0'] })
    expect([...[...a.store.alerts.values()].find((r) => r.body.alertId === alert.alertId)!.users]).toEqual(['user9', ...Array.from({ length: 9 }, (_, i) => `user${i}`)])
  })

  it('does not cite a quote of another event than its member (left by an older alerter during a rolling upgrade)', async () => {
    const a = alerter()
    const [first, second] = [failedLogin(0, 0, A), failedLogin(1, 20, A)]
    const stale = { eventId: 'raw-logs/0/77', topic: 'raw-logs', partition: 0, offset: '77', line: 'an event of an earlier firing', users: ['mallory'] }
    let observed = 0
    const state: CorrelationState = {
      observe: async () => (observed++ === 1 ? { count: 10, members: [first.eventId, second.eventId], quotes: [quoteOf(stale), null] } : null),
      close: async () => {},
    }
    a.deps.correlations = createCorrelationFeed(rules.set.correlations, state)
    const published = await handleFeatureRecords(delivered([first, second]), a.deps)
    const alert = published.find((x) => x.detector === `sigma:${BRUTE_FORCE}`)!
    expect(alert.evidence.map((e) => e.eventId)).toEqual([second.eventId, first.eventId])
  })

  it('publishes nothing new for a batch delivered again, and counts no event twice', async () => {
    const a = alerter()
    await handleFeatureRecords(delivered(batch), a.deps)
    const before = [...a.store.alerts.values()].map((r) => [r.body.alertId, r.events.size])
    expect(await handleFeatureRecords(delivered(batch), a.deps)).toEqual([])
    expect(await handleFeatureRecords(delivered([...batch, ...batch]), a.deps)).toEqual([])
    expect([...a.store.alerts.values()].map((r) => [r.body.alertId, r.events.size])).toEqual(before)
    expect(a.published).toHaveLength(2)
  })
})

describe('SSH brute force counts each attempt once, as the featurizer marks it (ssh.attempt)', () => {
  const BY_NAME = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c04'
  const MANY_NAMES = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c05'
  const FROM_ITSELF = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c07'
  const C = '150.183.249.110'
  const NAMED = 'n219076184117.netvigator.com'
  // loghub's Linux sample: a Red Hat /var/log/messages, sshd's PAM lines only.
  const pamLine = (rhost: string) =>
    `Jul 10 16:01:43 combo sshd(pam_unix)[30530]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=${rhost}  user=root`
  const marked = (r: FeatureRecord, attempt: boolean | undefined): FeatureRecord =>
    ({ ...r, event: { ...r.event, ...(attempt !== undefined && { ssh: { attempt } }) } })
  const pamFailure = (i: number, seconds: number, ip: string, attempt: boolean) =>
    marked(sshdRecord(i, seconds, ip, 'ssh_pam_auth_failure', pamLine(ip)), attempt)
  const verdict = (i: number, seconds: number, ip: string, attempt: boolean | undefined) => marked(failedLogin(i, seconds, ip), attempt)
  const byName = (r: FeatureRecord, name = NAMED, host = 'combo'): FeatureRecord => {
    const { ip: _ip, ...source } = r.event.source!
    return { ...r, entity: { kind: 'source.domain', id: name }, event: { ...r.event, source: { ...source, domain: name }, host: { name: host }, message: pamLine(name) } }
  }
  const alertsOf = async (records: FeatureRecord[]) =>
    (await handleFeatureRecords(delivered(records), alerter().deps)).map((x) => [x.detector, x.entity.kind, x.entity.id])

  it('on a host that logs only PAM\'s lines, its counted failures are the attempts', async () => {
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => pamFailure(i, i, C, true)))).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', C]])
    // A PAM failure the featurizer did not count (its host writes verdicts) is not an attempt.
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => pamFailure(i, i, C, false)))).toEqual([])
  })

  it('a verdict whose PAM line already counted is not counted again; one from before the mark counts as always', async () => {
    // 10 verdicts, 9 of whose PAM failures counted (the tenth's PAM line is in an earlier batch): 9 attempts, under the threshold of 10.
    const pairs = Array.from({ length: 10 }, (_, i) => [...(i > 0 ? [pamFailure(2 * i, i, A, true)] : []), verdict(2 * i + 1, i, A, false)]).flat()
    expect(await alertsOf(pairs)).toEqual([])
    expect(await alertsOf([...pairs, verdict(100, 20, A, true)])).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', A]])
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => verdict(i, i, A, undefined)))).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', A]])
  })

  it('an Invalid user line the featurizer counted is the attempt: the honeynet\'s OpenSSH 3 wrote nothing else of 128 tries', async () => {
    const H = '211.141.89.73'
    const illegal = (i: number, attempt: boolean | undefined) =>
      marked(sshdRecord(i, i, H, 'ssh_invalid_user', `Jan 31 18:22:24 combo sshd[${30159 + i}]: Illegal user jordan${i} from ${H}`), attempt)
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => illegal(i, true)))).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', H]])
    // Unmarked (from a featurizer before the mark) or not counted: as before, its verdict is the attempt.
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => illegal(i, undefined)))).toEqual([])
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => illegal(i, false)))).toEqual([])
    // Today's sshd: a line and its verdict, which the featurizer did not count again, are one attempt each: 9, under the threshold.
    const connections = Array.from({ length: 9 }, (_, i) => [illegal(2 * i, true), verdict(2 * i + 1, i, H, false)]).flat()
    expect(await alertsOf(connections)).toEqual([])
    expect(await alertsOf([...connections, illegal(100, true)])).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', H]])
    // A user AllowUsers turns away: its own line, as the featurizer marks it.
    const notAllowed = (i: number) =>
      marked(sshdRecord(i, i, H, 'ssh_user_not_allowed', `Dec 10 06:55:46 LabSZ sshd[${3001 + i}]: User root from ${H} not allowed because not listed in AllowUsers`), true)
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => notAllowed(i)))).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', H]])
  })

  it('a client its lines name only by host name is counted by that name, and by address when a line has one', async () => {
    const named = Array.from({ length: 10 }, (_, i) => byName(pamFailure(i, i, C, true)))
    expect(await alertsOf(named)).toEqual([[`sigma:${BY_NAME}`, 'source.domain', NAMED]])
    // A line with both (placed at its connection's address) is counted by address only.
    const both = named.map((r) => ({ ...r, entity: { kind: 'source.ip', id: C }, event: { ...r.event, source: { ...r.event.source, ip: C } } }))
    expect(await alertsOf(both)).toEqual([[`sigma:${BRUTE_FORCE}`, 'source.ip', C]])
  })

  it('a host\'s names for itself are no client: local failures on ten hosts are not one source\'s brute force', async () => {
    const local = ['localhost', 'localhost.localdomain', 'localhost6', 'db.localhost']
      .flatMap((name, n) => Array.from({ length: 10 }, (_, i) => ({ ...byName(pamFailure(10 * n + i, i, C, true), name, `host${i}`), entity: { kind: 'host.name', id: `host${i}` } })))
    expect(await alertsOf(local)).toEqual([])
    // Nor are failures from a host's own address (an SSH tunnel, a local proxy): the featurizer files them under each host.
    const onHost = (r: FeatureRecord, host: string): FeatureRecord => ({ ...r, entity: { kind: 'host.name', id: host }, event: { ...r.event, host: { name: host } } })
    const fromItself = ['127.0.0.1', '::1'].flatMap((ip, n) => Array.from({ length: 10 }, (_, i) => onHost(verdict(10 * n + i, i, ip, true), `host${i}`)))
    expect(await alertsOf(fromItself)).toEqual([])
    // Ten on one host are that host's: a local guess, or one through a port forward.
    const onOneHost = [...Array.from({ length: 5 }, (_, i) => onHost(verdict(i, i, '127.0.0.1', true), 'db1')),
      ...Array.from({ length: 5 }, (_, i) => byName(pamFailure(10 + i, 10 + i, C, true), 'localhost', 'db1'))]
      .map((r) => ({ ...r, entity: { kind: 'host.name', id: 'db1' } }))
    expect(await alertsOf(onOneHost)).toEqual([[`sigma:${FROM_ITSELF}`, 'host.name', 'db1']])
  })

  it('five named clients failing on one host within five minutes are about the host: a new name per connection is no way around the count', async () => {
    const rotating = Array.from({ length: 5 }, (_, i) => byName(pamFailure(i, 30 * i, C, true), `h${i}.attacker.example`))
    expect(await alertsOf(rotating)).toEqual([[`sigma:${MANY_NAMES}`, 'host.name', 'combo']])
    // The clients it counted are kept out of training, not the host, whose own lines are its baseline;
    // and the alert about the host carries no one client's window as its features.
    const a = alerter()
    const [alert] = await handleFeatureRecords(delivered(rotating), a.deps)
    expect(alert!.features).toEqual({})
    const last = rotating[4]!.eventTime
    expect(mergeFlags(a.flags.flags)).toEqual(expect.arrayContaining(rotating.map((r) => ({
      entity: { kind: 'source.domain', id: r.entity.id }, from: last - 300_000, to: last, reason: 'SSH brute force on one host from many host names', source: `sigma:${MANY_NAMES}`,
    }))))
    expect(a.flags.flags.some((f) => f.entity.kind === 'host.name')).toBe(false)
    // Four names, or five on five hosts, are not.
    expect(await alertsOf(rotating.slice(1))).toEqual([])
    expect(await alertsOf(rotating.map((r, i) => byName(r, r.entity.id, `host${i}`)))).toEqual([])
  })
})

// The sotm34 honeynet's secure log: 200.120.71.160 opened 19 connections in four seconds and sent
// sshd nothing; 217.74.112.2 ran SSH_Version_Mapper. Neither tried a password, and no rule said a word.
describe('features → the SSH scan alert', () => {
  const SCAN = '7ec9937e-b2c4-47db-9ea4-9d4193e557cc'
  const S = '200.120.71.160'
  const noIdentification = (i: number, seconds: number, ip = S) =>
    sshdRecord(i, seconds, ip, 'ssh_no_identification', `Feb 11 13:37:51 combo sshd[${1200 + i}]: Did not receive identification string from ${ip}`)

  it('fires for ten connections from one source within five minutes that never began the protocol, whichever way each ended', async () => {
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => noIdentification(i, i % 4)))).toEqual([[`sigma:${SCAN}`, 'source.ip', S, 'medium']])
    const V = '217.74.112.2'
    const mixed = [
      ...Array.from({ length: 5 }, (_, i) => noIdentification(i, i, V)),
      ...Array.from({ length: 3 }, (_, i) => sshdRecord(10 + i, 2 + i, V, 'ssh_version_scan', `Feb 27 10:18:17 combo sshd[${7078 + i}]: scanned from ${V} with SSH-1.0-SSH_Version_Mapper.  Don't panic.`)),
      sshdRecord(20, 6, V, 'ssh_bad_protocol_version', `Feb 27 10:18:19 combo sshd[7090]: Bad protocol version identification 'GET / HTTP/1.0' from ${V}`),
      sshdRecord(21, 7, V, 'ssh_version_scan', `Feb 27 10:18:20 combo sshd[7091]: probed from ${V} port 4242 with SSH-2.0-Probe.  Don't panic.`),
    ]
    expect(await alertsOf(mixed.slice(0, 9))).toEqual([])
    expect(await alertsOf(mixed)).toEqual([[`sigma:${SCAN}`, 'source.ip', V, 'medium']])
  })

  it('does not count a client that began the protocol and offered no algorithm in common: an old client more often than a scanner', async () => {
    const legacy = Array.from({ length: 12 }, (_, i) => sshdRecord(i, i * 20, S, 'ssh_negotiation_failed',
      `Feb 27 10:18:20 combo sshd[${7091 + i}]: Unable to negotiate with ${S} port ${4242 + i}: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]`))
    expect(await alertsOf(legacy)).toEqual([])
  })

  it('counts a connection once where today\'s sshd writes two lines of its bad identification', async () => {
    // error: kex_exchange_identification: client sent invalid protocol identifier "MGLNDD_…", then banner exchange: … invalid format (one pid)
    const probe = (i: number) => [
      sshdRecord(2 * i, i, S, 'ssh_kex_failed', `Nov 20 10:00:00 web1 sshd[${900 + i}]: error: kex_exchange_identification: client sent invalid protocol identifier "MGLNDD_192.0.2.10_22"`),
      sshdRecord(2 * i + 1, i, S, 'ssh_bad_protocol_version', `Nov 20 10:00:00 web1 sshd[${900 + i}]: banner exchange: Connection from ${S} port ${40000 + i}: invalid format`),
    ]
    expect(await alertsOf(Array.from({ length: 9 }, (_, i) => probe(i)).flat())).toEqual([])
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => probe(i)).flat())).toEqual([[`sigma:${SCAN}`, 'source.ip', S, 'medium']])
  })

  // OpenSSH 8 on, as sshd-session from 9.8: the banner exchange's error names no client, and the line
  // that ends the connection does; the featurizer reads the two together and writes the second as
  // ssh_no_identification (handle-raw-logs.ts, its tests and the feature store's). Here, as it does.
  const TODAY = Date.UTC(2026, 10, 21)
  /** The lines of one connection, i seconds after 10:00. */
  const closedBeforeIdentification = (i: number, { ending = 'Connection closed by', why = 'Connection closed by remote host' } = {}) => [
    `Nov 20 10:00:${String(i).padStart(2, '0')} web1 sshd-session[${900 + i}]: error: kex_exchange_identification: ${why}`,
    `Nov 20 10:00:${String(i).padStart(2, '0')} web1 sshd-session[${900 + i}]: ${ending} ${S} port ${40000 + i}`,
  ]
  const pairedAsTheFeaturizerDoes = (records: FeatureRecord[]) => records.map((r, i) =>
    (i > 0 && records[i - 1]!.event.event.action === 'ssh_kex_failed' && r.event.process?.pid === records[i - 1]!.event.process?.pid
      ? { ...r, event: { ...r.event, event: { ...r.event.event, action: 'ssh_no_identification', outcome: 'failure' as const } } } : r))

  it('counts a connection today\'s sshd ended before the client\'s identification once, by the closing line the featurizer paired with the kex error', async () => {
    const connections = (n: number, options?: Parameters<typeof closedBeforeIdentification>[1]) =>
      pairedAsTheFeaturizerDoes(syslogRecords(Array.from({ length: n }, (_, i) => closedBeforeIdentification(i, options)).flat(), TODAY))
    expect(await alertsOf(connections(10))).toEqual([[`sigma:${SCAN}`, 'source.ip', S, 'medium']])
    expect(await alertsOf(connections(9))).toEqual([])
    expect(await alertsOf(connections(10, { ending: 'Connection reset by', why: 'read: Connection reset by peer' }))).toEqual([[`sigma:${SCAN}`, 'source.ip', S, 'medium']])
    // At LogLevel VERBOSE the featurizer places the kex error at its connection's address too ("Connection from" first): still one count a connection.
    const placed = connections(9).map((r) => (r.event.event.action === 'ssh_kex_failed' ? { ...r, entity: { kind: 'source.ip', id: S }, event: { ...r.event, source: { ip: S } } } : r))
    expect(await alertsOf(placed)).toEqual([])
  })

  it('counts no closing line alone: after a known scanner\'s version string (counted by that line), a session left at VERBOSE, a client that left after the protocol began', async () => {
    const at = (i: number) => `Nov 20 10:00:${String(i).padStart(2, '0')} web1 sshd-session[${900 + i}]:`
    const scanned = syslogRecords(Array.from({ length: 5 }, (_, i) => [
      `${at(i)} scanned from ${S} with SSH-1.0-SSH_Version_Mapper.  Don't panic.`, `${at(i)} Connection closed by ${S} port ${40000 + i}`,
    ]).flat(), TODAY)
    expect(await alertsOf(scanned)).toEqual([]) // five connections, not ten
    const left = syslogRecords(Array.from({ length: 12 }, (_, i) => [
      `${at(i)} Accepted publickey for deploy from ${S} port ${40000 + i} ssh2: ED25519 SHA256:abc`,
      `${at(i)} Connection closed by ${S} port ${40000 + i}`, // serverloop.c, at VERBOSE: the client dropped its session
      `${at(i)} Connection closed by ${S} port ${41000 + i} [preauth]`,
      `${at(i)} Connection closed by authenticating user git ${S} port ${42000 + i} [preauth]`,
      `${at(i)} Connection reset by invalid user admin ${S} port ${43000 + i} [preauth]`,
    ]).flat(), TODAY)
    expect(left.every((r) => r.family === 'sshd')).toBe(true)
    expect((await alertsOf(left)).filter(([detector]) => detector === `sigma:${SCAN}`)).toEqual([])
  })

  it('does not fire for nine, for ten spread over more than five minutes, nor for a host\'s own address', async () => {
    expect(await alertsOf(Array.from({ length: 9 }, (_, i) => noIdentification(i, i)))).toEqual([])
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => noIdentification(i, i * 40)))).toEqual([])
    expect(await alertsOf(Array.from({ length: 10 }, (_, i) => noIdentification(i, i, '127.0.0.1')))).toEqual([])
  })
})

// The sotm34 honeynet's Apache access logs: Nimda-infected hosts asked for cmd.exe through a dozen
// encodings of a path traversal within seconds, all refused, and no rule said a word.
describe('features → the web scan alert', () => {
  const SCAN = '8c311d30-ee39-44ce-bf4e-91dcc49c83bb'
  const NAMED_SCAN = '34c14309-3bc5-4f8e-9d23-de1bfe860aaf'
  const N = '211.59.0.204'
  const NIMDA = ['/scripts/root.exe?/c+dir', '/MSADC/root.exe?/c+dir', '/c/winnt/system32/cmd.exe?/c+dir', '/d/winnt/system32/cmd.exe?/c+dir',
    '/scripts/..%255c../winnt/system32/cmd.exe?/c+dir', '/_vti_bin/..%255c../..%255c../..%255c../winnt/system32/cmd.exe?/c+dir',
    '/_mem_bin/..%255c../..%255c../..%255c../winnt/system32/cmd.exe?/c+dir', '/scripts/..%c1%1c../winnt/system32/cmd.exe?/c+dir',
    '/scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir', '/scripts/..%c0%2f../winnt/system32/cmd.exe?/c+dir', '/scripts/..%c1%9c../winnt/system32/cmd.exe?/c+dir',
    '/scripts/..%%35%63../winnt/system32/cmd.exe?/c+dir', '/scripts/..%%35c../winnt/system32/cmd.exe?/c+dir', '/scripts/..%25%35%63../winnt/system32/cmd.exe?/c+dir',
    '/scripts/..%252f../winnt/system32/cmd.exe?/c+dir', '/msadc/..%255c../..%255c../..%255c/..%c1%1c../..%c1%1c../..%c1%1c../winnt/system32/cmd.exe?/c+dir']
  const probe = (n: number, { ip = N, status = (i: number): number => (i < 2 ? 404 : 400), spacing = 1, paths = NIMDA } = {}) =>
    Array.from({ length: n }, (_, i) => webRecord(i, i * spacing, ip, status(i), paths[i % paths.length]!))

  it('fires for ten different paths from one source refused within two minutes', async () => {
    expect(await alertsOf(probe(10))).toEqual([[`sigma:${SCAN}`, 'source.ip', N, 'medium']])
    expect(await alertsOf(probe(9))).toEqual([])
    expect(await alertsOf(probe(10, { spacing: 14 }))).toEqual([]) // 126 s from first to last
  })

  it('counts paths, not requests: a health check on a missing path, or one exploit sent again and again, is no scan', async () => {
    expect(await alertsOf(probe(40, { paths: ['/_vti_bin/_vti_aut/fp30reg.dll'] }))).toEqual([])
    expect(await alertsOf(probe(40, { paths: NIMDA.slice(0, 9) }))).toEqual([])
  })

  it('counts refusals a probe gets, not answers, requests for credentials, nor what ordinary clients get; nor a host\'s own address', async () => {
    // 9 refused paths, and a tenth answered otherwise: never ten
    for (const other of [200, 302, 500, 401, 407, 408, 409, 422, 429, 499]) expect(await alertsOf(probe(10, { status: (i) => (i < 9 ? 404 : other) })), String(other)).toEqual([])
    for (const refused of [403, 405, 410, 414]) expect(await alertsOf(probe(10, { status: (i) => (i < 9 ? 404 : refused) })), String(refused)).toEqual([[`sigma:${SCAN}`, 'source.ip', N, 'medium']])
    // a proxy on the server's own host logs 127.0.0.1 for every client; the featurizer files its lines under the host
    const local = probe(20, { ip: '127.0.0.1' }).map((r) => ({ ...r, entity: { kind: 'host.name', id: 'web1' } }))
    expect(await alertsOf(local)).toEqual([])
  })

  it('counts a client the access log names by host name (HostnameLookups On) by that name; not a host\'s names for itself', async () => {
    const NAMED = 'pc-211-59-0-204.example.net'
    expect(await alertsOf(probe(10, { ip: NAMED }))).toEqual([[`sigma:${NAMED_SCAN}`, 'source.domain', NAMED, 'medium']])
    expect(await alertsOf(probe(9, { ip: NAMED }))).toEqual([])
    for (const self of ['localhost', 'web1.localhost']) {
      expect(await alertsOf(probe(20, { ip: self }).map((r) => ({ ...r, entity: { kind: 'host.name', id: 'web1' } }))), self).toEqual([])
    }
  })
})

// Worms sweeping the sotm34 honeynet's addresses (its honeywall's firewall log) and Nmap in the
// Stratosphere captures (Zeek) raised only model alerts, most of the firewall's without a reason.
// Real lines, read by the ingestor's and the featurizer's code (real-records.ts).
describe('features → the network scan alerts', () => {
  const SWEEP = '2d7b4f19-5e8a-4c36-a1f0-9b3e6d2c8a54'
  const PORT_SCAN = '9e4a2c6d-1b7f-4d58-8c3e-5f0a7b9d2e16'
  const fixtures = join(REPO_ROOT, 'test', 'fixtures')
  const zeek = (file: string) => zeekRecords(readFileSync(join(fixtures, 'stratosphere-zeek', file), 'utf8'), 'conn', Date.UTC(2026, 0, 5))
  const HONEYWALL_RECEIVED = Date.UTC(2005, 2, 7)
  const iptables = (file: string) => {
    const bytes = readFileSync(join(fixtures, 'sotm34-honeynet', 'iptables', file))
    return (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split('\n').filter(Boolean)
  }
  const sourcesAlertedBy = async (rule: string, records: FeatureRecord[]) =>
    new Set((await alertsOf(records)).filter(([detector]) => detector === `sigma:${rule}`).map(([, , id]) => id))
  /** A honeywall line from SRC to DST:DPT with another prefix (and protocol, flags), `seconds` after 10:00:00. */
  const firewallLine = (prefix: string, src: string, dst: string, dpt: number, seconds = 0, { proto = 'TCP', flags = 'SYN', spt = 3485 } = {}) =>
    `Mar  1 10:${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')} bridge kernel: ${prefix}IN=br0 PHYSIN=eth0 OUT=br0 PHYSOUT=eth1 SRC=${src} DST=${dst} LEN=48 TOS=0x00 PREC=0x00 TTL=113 ID=5085 DF PROTO=${proto} SPT=${spt} DPT=${dpt}`
    + (proto === 'TCP' ? ` WINDOW=8760 RES=0x00 ${flags}${flags ? ' ' : ''}URGP=0` : ' LEN=28')
  const W = '63.158.248.63'
  const sweep = (prefix: string, hosts: number, { spacing = 1, port = 135, ...line }: { spacing?: number; port?: number; proto?: string; flags?: string; spt?: number } = {}) =>
    syslogRecords(Array.from({ length: hosts }, (_, i) => firewallLine(prefix, W, `11.11.79.${1 + i}`, port, i * spacing, line)), HONEYWALL_RECEIVED)
  const portScan = (n: number, line: { proto?: string; flags?: string; spt?: number } = {}, first = 1000) =>
    syslogRecords(Array.from({ length: n }, (_, i) => firewallLine('INBOUND TCP: ', W, '11.11.79.84', first + i, i, line)), HONEYWALL_RECEIVED)

  /**
   * An independent reading of a honeywall log: per source, port and protocol, the most distinct
   * addresses in any five minutes (t - 300 s, t] of the attempts the rule counts: refused, or logged
   * coming in; TCP only when it tries to open a connection (no ACK, no RST); not traceroute's UDP
   * ports, UDP answers from DNS, NTP or QUIC ports, nor a group address.
   */
  function honeywallSweepers(lines: readonly string[]): Set<string> {
    const MONTHS = ['Jan', 'Feb', 'Mar']
    const probes = new Map<string, Array<[number, string]>>()
    for (const line of lines) {
      const head = /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) \S+ kernel: (.*?)IN=(.*)$/.exec(line)
      if (!head) continue
      const prefix = head[6]!.toUpperCase()
      const packet = head[7]!.split('[')[0]! // an ICMP error's quoted packet is not this one
      const field = (k: string) => new RegExp(`(?:^| )${k}=(\\S+)`).exec(packet)?.[1]
      const [src, dst, spt, dpt, proto] = [field('SRC'), field('DST'), field('SPT'), field('DPT'), field('PROTO')]
      const inbound = prefix.includes('INBOUND') && !prefix.includes('OUTBOUND')
      if (!src || !dst || !dpt || !(inbound || /BLOCK|DROP|REJECT|DENY|DENIED|DISCARD/.test(prefix))) continue
      const flags = / (?:RES=0x\S+|WINDOW=\d+)((?: [A-Z]{3})*) URGP=/.exec(packet)?.[1]
      if (proto === 'TCP' && (flags === undefined || / (?:ACK|RST)\b/.test(flags))) continue
      if (proto === 'UDP' && ((Number(dpt) >= 33434 && Number(dpt) <= 33534) || (['53', '123', '443'].includes(spt ?? '') && Number(dpt) >= 32768))) continue
      const first = Number(dst.split('.')[0])
      if (first === 0 || first >= 224) continue // 0.0.0.0/8, multicast, broadcast
      const t = Date.UTC(2005, MONTHS.indexOf(head[1]!), Number(head[2]), Number(head[3]), Number(head[4]), Number(head[5]))
      const key = `${src} ${dpt} ${proto}`
      probes.set(key, [...(probes.get(key) ?? []), [t, dst]])
    }
    const sweepers = new Set<string>()
    for (const [key, seen] of probes) {
      for (const [t] of seen) if (new Set(seen.filter(([u]) => u > t - 300_000 && u <= t).map(([, dst]) => dst)).size >= 20) sweepers.add(key.split(' ')[0]!)
    }
    return sweepers
  }

  it('fires a sweep for each source the honeywall log shows reaching twenty addresses on one port within five minutes, and no port scan', async () => {
    // The sample keeps every line but one in twenty of INBOUND TCP: its sweeps are UDP (NetBIOS 137,
    // Messenger 1026); tcp-sweeps.log has three worms' TCP sweeps whole.
    for (const file of ['iptablesyslog-sample.gz', 'tcp-sweeps.log']) {
      const lines = iptables(file)
      const records = syslogRecords(lines, HONEYWALL_RECEIVED)
      const sweepers = honeywallSweepers(lines)
      expect(sweepers.size, file).toBeGreaterThanOrEqual(3)
      expect(await sourcesAlertedBy(SWEEP, records), file).toEqual(sweepers)
      expect(await sourcesAlertedBy(PORT_SCAN, records), file).toEqual(new Set())
    }
    expect(honeywallSweepers(iptables('tcp-sweeps.log'))).toEqual(new Set(['219.150.13.166', '62.129.189.120', '61.100.5.143']))
  })

  it('counts what a firewall refused in either direction, or logged coming in; not what it let out, multicast, nor one address spread over more than five minutes', async () => {
    expect(await alertsOf(sweep('INBOUND TCP: ', 20))).toEqual([[`sigma:${SWEEP}`, 'source.ip', W, 'medium']])
    expect(await alertsOf(sweep('INBOUND TCP: ', 19))).toEqual([])
    expect(await alertsOf(sweep('[UFW BLOCK] ', 20))).toEqual([[`sigma:${SWEEP}`, 'source.ip', W, 'medium']])
    expect(await alertsOf(sweep('OUTBOUND DROP: ', 20))).toEqual([[`sigma:${SWEEP}`, 'source.ip', W, 'medium']])
    expect(await alertsOf(sweep('INBOUND UDP: ', 20, { proto: 'UDP', port: 137 }))).toEqual([[`sigma:${SWEEP}`, 'source.ip', W, 'medium']])
    expect(await alertsOf(sweep('OUTBOUND CONN TCP: ', 40))).toEqual([])
    expect(await alertsOf(sweep('[UFW ALLOW] ', 40))).toEqual([])
    expect(await alertsOf(syslogRecords(Array.from({ length: 25 }, (_, i) => firewallLine('INBOUND UDP: ', W, `239.255.255.${i + 1}`, 1900, i, { proto: 'UDP' })), HONEYWALL_RECEIVED))).toEqual([])
    // The window is (t - 5 min, t]: a twentieth address 300 s after the first leaves nineteen, 299 s after it twenty.
    const twentiethAt = (seconds: number) => syslogRecords(Array.from({ length: 20 }, (_, i) => firewallLine('INBOUND TCP: ', W, `11.11.79.${i + 1}`, 135, i < 19 ? i : seconds)), HONEYWALL_RECEIVED)
    expect(await alertsOf(twentiethAt(300))).toEqual([])
    expect(await alertsOf(twentiethAt(299))).toEqual([[`sigma:${SWEEP}`, 'source.ip', W, 'medium']])
    // twenty addresses on twenty ports: no sweep of one port
    const scattered = syslogRecords(Array.from({ length: 20 }, (_, i) => firewallLine('INBOUND TCP: ', W, `11.11.79.${i + 1}`, 1000 + i, i)), HONEYWALL_RECEIVED)
    expect(await alertsOf(scattered)).toEqual([])
  })

  it('counts a TCP packet that tries to open a connection, not a reply, a reset or a late packet a firewall blocks (a web server\'s answers to one client are no scan), nor UDP answers', async () => {
    for (const flags of ['ACK SYN', 'ACK RST', 'RST', 'ACK FIN', 'ACK PSH']) {
      expect(await alertsOf(sweep('[UFW BLOCK] ', 25, { flags })), flags).toEqual([])
      expect(await alertsOf(portScan(20, { flags })), flags).toEqual([])
    }
    // an ECN-capable SYN, and a stealth scan's FIN, NULL and Xmas packets, which refused or not tell what listens
    for (const flags of ['CWR ECE SYN', 'FIN', '', 'URG PSH FIN']) {
      expect(await alertsOf(sweep('[UFW BLOCK] ', 20, { flags })), `"${flags}"`).toEqual([[`sigma:${SWEEP}`, 'source.ip', W, 'medium']])
    }
    // a resolver's, a time server's or a QUIC server's late answers to one client's many ports
    for (const spt of [53, 123, 443]) expect(await alertsOf(portScan(20, { proto: 'UDP', spt }, 40000)), String(spt)).toEqual([])
    // but a UDP scan sent from port 53 (nmap -g 53, past stateless filters) of the ports below the ephemeral range is one
    expect(await alertsOf(portScan(15, { proto: 'UDP', spt: 53 }))).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', W, 'medium']])
  })

  it('fires a port scan for fifteen ports of one host within five minutes: Nmap\'s in Zeek\'s conn log, and a firewall\'s', async () => {
    const NMAP = '172.16.1.11'
    const nmap = zeek('002-zeek-scenario-port-scanning/conn.port-scan.log') // 99 ports of 10.0.2.13 refused (REJ)
    expect(await alertsOf(nmap)).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', NMAP, 'medium']])
    const refused = nmap.filter((r) => r.event.zeek?.conn_state === 'REJ')
    expect(new Set(refused.slice(0, 15).map((r) => r.event.destination?.port)).size).toBe(15)
    expect(await alertsOf(refused.slice(0, 14))).toEqual([])
    expect(await alertsOf(refused.slice(0, 15))).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', NMAP, 'medium']])
    // answered connections are no probe; a SYN scan's hit on an open port (answered, then reset before any data) is
    const answered = (state: string, history?: string) => refused.map((r) => ({ ...r, event: { ...r.event, zeek: { ...r.event.zeek!, conn_state: state, ...(history && { history }) } } }))
    expect(await alertsOf(answered('SF'))).toEqual([])
    expect(await alertsOf(answered('RSTO', 'ShADadR'))).toEqual([])
    expect(await alertsOf(answered('RSTO', 'ShR'))).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', NMAP, 'medium']])
    expect(await alertsOf(portScan(15))).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', W, 'medium']])
    expect(await alertsOf(portScan(14))).toEqual([])
  })

  it('fires a sweep for Nmap\'s host discovery in Zeek\'s conn log: failed TCP attempts on one port', async () => {
    expect(await sourcesAlertedBy(SWEEP, zeek('002-zeek-scenario-port-scanning/conn.log'))).toEqual(new Set(['172.16.1.11']))
  })

  it('counts unanswered UDP (an Internet scanner in a Stratosphere capture), as Zeek or a firewall saw it; not traceroute\'s ports', async () => {
    const SCANNER = '104.152.52.193' // 8 TCP and 27 UDP ports of 147.32.81.167, all unanswered
    const scan = zeek('008-zeek-mixed/data/conn.udp-scan.log.labeled')
    expect(await alertsOf(scan)).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', SCANNER, 'medium']])
    const udp = scan.filter((r) => r.event.network?.transport === 'udp')
    expect(await alertsOf(udp)).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', SCANNER, 'medium']])
    // the same datagrams to as many hosts on one port: a sweep
    const spread = udp.map((r, i) => ({ ...r, event: { ...r.event, destination: { ...r.event.destination, ip: `147.32.81.${i + 1}`, port: 137 } } }))
    expect(await alertsOf(spread)).toEqual([[`sigma:${SWEEP}`, 'source.ip', SCANNER, 'medium']])
    // traceroute sends one datagram a port from 33434 up
    const traceroute = udp.map((r, i) => ({ ...r, event: { ...r.event, destination: { ...r.event.destination, port: 33434 + i } } }))
    expect(await alertsOf(traceroute)).toEqual([])
    expect(await alertsOf(portScan(20, { proto: 'UDP' }, 33434))).toEqual([])
    expect(await alertsOf(portScan(15, { proto: 'UDP' }))).toEqual([[`sigma:${PORT_SCAN}`, 'source.ip', W, 'medium']])
  })
})

// The WRCCDC 2018 red team opened 4,116 Remote Desktop connections from one address in 16 minutes,
// and only the model said anything (4 alerts).
describe('features → the RDP brute-force alert', () => {
  const RDP_BRUTE_FORCE = '7caab0aa-4495-44b9-90c4-37205c71e4d3'
  const RED_TEAM = '10.164.94.120'
  // The capture's first 30 RDP connections (4 s, all the red team's), as Zeek writes them by default and as JSON.
  const sample = (encoding: 'zeek-default/rdp.log' | 'zeek-json/rdp.json') =>
    zeekRecords(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'zeek-wrccdc2018', encoding), 'utf8'), 'rdp', Date.UTC(2026, 0, 5))

  it('fires for twenty RDP connections from one source within five minutes, whichever encoding Zeek wrote', async () => {
    for (const encoding of ['zeek-default/rdp.log', 'zeek-json/rdp.json'] as const) {
      const records = sample(encoding)
      expect(records, encoding).toHaveLength(30)
      expect(await alertsOf(records.slice(0, 20)), encoding).toEqual([[`sigma:${RDP_BRUTE_FORCE}`, 'source.ip', RED_TEAM, 'medium']])
      expect(await alertsOf(records.slice(0, 19)), encoding).toEqual([])
    }
  })

  it('does not fire for twenty connections spread over more than five minutes (a person reconnecting through the day)', async () => {
    const spread = sample('zeek-json/rdp.json').slice(0, 20).map((r, i) => ({ ...r, eventTime: Date.UTC(2026, 0, 5) + i * 16_000 }))
    expect(await alertsOf(spread)).toEqual([])
  })
})

// Zeek's own detections (notice.log) raised nothing: a user running Zeek's scan or brute-force
// policy, or its intelligence framework, saw none of it in Vigil.
describe('features → Zeek\'s notices', () => {
  const rule = {
    scan: '3c6f0b2e-9a41-4d7c-8e15-6b2a9f4d1c80', guessing: '8d2e7a51-4f6b-4c93-b0a8-1e5c7d9f2b46', attack: '5a9c3e17-2b8d-4f61-a7e4-0d6b8c2f9e53',
    malware: 'e4b1d8c6-7f2a-4e39-9c05-8a3f6d1b2e74', intel: '7f3a9d2c-6e1b-4a85-b4c7-2d9e0f6a1b38',
  }
  /** One notice as Zeek's JSON writer puts it (json-streaming-logs: _path), from 198.51.100.7 to 192.0.2.20. */
  const notice = (note: string, msg = 'a message') => zeekRecords(JSON.stringify({
    _path: 'notice', ts: 1_700_000_000.5, uid: 'CHhAvVGS1DHFjwGM9', 'id.orig_h': '198.51.100.7', 'id.orig_p': 51234, 'id.resp_h': '192.0.2.20', 'id.resp_p': 22,
    proto: 'tcp', note, msg, src: '198.51.100.7', dst: '192.0.2.20', p: 22, actions: ['Notice::ACTION_LOG'], suppress_for: 3600,
  }), 'notice', Date.UTC(2026, 0, 5))

  it('raises Zeek\'s scan notices, as the RAT-infected host of a Stratosphere capture shows them, and not its certificate notices', async () => {
    const records = zeekRecords(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'stratosphere-zeek', '009-zeek-malicious', 'data', 'notice.log.labeled'), 'utf8'), 'notice', Date.UTC(2026, 0, 5))
    expect(new Set(records.map((r) => r.event.zeek?.note))).toEqual(new Set(['Scan::Address_Scan', 'SSL::Invalid_Server_Cert']))
    const alerts = await alertsOf(records)
    expect(alerts.length).toBeGreaterThan(0)
    expect(new Set(alerts.map((a) => a.join(' ')))).toEqual(new Set([`sigma:${rule.scan} source.ip 192.168.1.113 medium`]))
  })

  it('raises each kind of attack Zeek notices at its level, and none of its other notices', async () => {
    for (const [note, id, severity] of [
      ['Scan::Port_Scan', rule.scan, 'medium'], ['SSH::Password_Guessing', rule.guessing, 'medium'], ['FTP::Bruteforcing', rule.guessing, 'medium'],
      ['HTTP::SQL_Injection_Attacker', rule.attack, 'medium'], ['Heartbleed::SSL_Heartbeat_Attack_Success', rule.attack, 'medium'],
      ['Signatures::Sensitive_Signature', rule.attack, 'medium'], ['TeamCymruMalwareHashRegistry::Match', rule.malware, 'high'], ['Intel::Notice', rule.intel, 'high'],
    ] as const) expect(await alertsOf(notice(note)), note).toEqual([[`sigma:${id}`, 'source.ip', '198.51.100.7', severity]])
    for (const note of ['HTTP::SQL_Injection_Victim', 'SSL::Invalid_Server_Cert', 'ProtocolDetector::Protocol_Found', 'CaptureLoss::Too_Much_Loss', 'Weird::Activity', 'Software::Vulnerable_Version', 'Traceroute::Detected', 'Scanner::Something']) {
      expect(await alertsOf(notice(note)), note).toEqual([])
    }
  })
})

describe('scores → Sigma alerts (rules over ML anomalies)', () => {
  const score = (at: number): Score => ({
    eventId: 'raw-logs/0/500', entity: { kind: 'source.ip', id: A }, eventTime: at, receivedAt: at, scoredAt: at, family: 'sshd', action: 'ssh_login_failed',
    score: 0.99, rawScore: 0.7, modelVersion: 'v1', threshold: 0.98, features: { auth_failures: 30 },
    evidence: { topic: 'raw-logs', partition: 0, offset: '500', line: 'Failed password for root' },
  })
  const login = (at: number) => ({
    ...sshdRecord(501, 0, A, 'ssh_login_succeeded', `Dec 10 07:00:00 LabSZ sshd[24400]: Accepted password for root from ${A} port 50000 ssh2`), eventTime: at,
  })

  it('fires the anomaly-then-login correlation when a source the model found anomalous logs in, and not in the other order', async () => {
    const T = Date.UTC(2025, 11, 10, 7)
    const a = alerter()
    expect(await handleScoreRecords(delivered([score(T)]), a.deps)).toEqual([])
    const published = await handleFeatureRecords(delivered([login(T + 60_000)]), a.deps)
    expect(published.map((x) => [x.detector, x.severity])).toEqual([[`sigma:${ANOMALY_THEN_LOGIN}`, 'high']])

    const b = alerter()
    await handleFeatureRecords(delivered([login(T)]), b.deps)
    expect(await handleScoreRecords(delivered([score(T + 60_000)]), b.deps)).toEqual([])
  })

  it('fires it on event time when the login arrives before the anomaly that came first (scores lag features)', async () => {
    const T = Date.UTC(2025, 11, 10, 7)
    const a = alerter()
    expect(await handleFeatureRecords(delivered([login(T + 60_000)]), a.deps)).toEqual([])
    const published = await handleScoreRecords(delivered([score(T)]), a.deps)
    expect(published.map((x) => [x.detector, x.severity])).toEqual([[`sigma:${ANOMALY_THEN_LOGIN}`, 'high']])
  })
})
