import { describe, expect, it } from 'vitest'
import { createMetrics, REDRIVEN_FROM_HEADER, type DeliveredMessage, type OutgoingRecord, type TypedProducer } from '@vigil/platform'
import { allTopics, createCodec, topics, type FeatureRecord, type RawLog } from '@vigil/schemas'
import type { FeatureStore, WindowStats } from '../../src/adapters/feature-store.ts'
import { createFeatureContext, type SshdLine } from '../../src/compute-features.ts'
import { createRawLogDecoder } from '../../src/decode-raw-log.ts'
import { handleRawLogs } from '../../src/handle-raw-logs.ts'

const codec = await createCodec({ kafkaName: (t) => t.name, topics: allTopics() })
const decode = createRawLogDecoder(codec, 'raw-logs')
const LINE = 'Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2'

const firstEvent: WindowStats = {
  events: 1, authAttempts: 1, authAttemptsLastMinute: 1, authFailures: 1, invalidUserAttempts: 1, distinctUsers: 1, httpRequests: 0,
  httpRequestsLast10s: 0, http4xx: 0, http5xx: 0, distinctPaths: 0, distinctDestinations: 0, previousEventTime: null, lateBeyondGrace: false, user: null,
}

async function rawLog(offset: string, headers: Record<string, string>, line = LINE): Promise<DeliveredMessage<RawLog>> {
  return { value: await decode(Buffer.from(line), headers), key: null, topic: 'raw-logs', partition: 0, offset, timestamp: 0, headers }
}

/** The handler's outputs for a batch: what it sent to which topic. */
async function featuresOf(messages: DeliveredMessage<RawLog>[], store: Partial<FeatureStore> = {}) {
  const sent: Array<{ topic: string; record: OutgoingRecord<unknown> }> = []
  const producer: TypedProducer = {
    send: async (topic, records) => void sent.push(...records.map((record) => ({ topic: topic.name, record }))),
    close: async () => {},
  }
  const featureStore: FeatureStore = { sshdSessions: async () => new Map(), update: async (events) => events.map(() => firstEvent), ...store }
  const context = createFeatureContext({ timeZone: 'UTC', businessHours: [8, 18], businessDays: [1, 5], sensitivePaths: [], privilegedUsers: [] })
  await handleRawLogs(messages, { featureStore, producer, geo: null, context, metrics: createMetrics('featurizer') })
  return sent
}

describe('handleRawLogs', () => {
  it('carries a redriven dead letter\'s provenance on to its features, and gives an ordinary line\'s features none', async () => {
    const sent = await featuresOf([
      await rawLog('7', { 'x-shipper': 'rsyslog' }),
      await rawLog('8', { [REDRIVEN_FROM_HEADER]: 'raw-logs.dlq/3/42', 'x-shipper': 'rsyslog' }),
    ])
    expect(sent.map((s) => s.topic)).toEqual([topics.features.name, topics.features.name])
    expect(sent.map((s) => (s.record.value as { eventId: string }).eventId)).toEqual(['raw-logs/0/7', 'raw-logs/0/8'])
    // Only the provenance goes on: the other headers were the raw line's business.
    expect(sent.map((s) => s.record.headers)).toEqual([undefined, { [REDRIVEN_FROM_HEADER]: 'raw-logs.dlq/3/42' }])
  })

  it('marks each sshd verdict, PAM failure and Invalid user line with whether it is the attempt its host\'s sessions counted, and no other line', async () => {
    const lines = [
      'Dec 10 06:55:45 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
      'Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root',
      LINE,
      'Dec 10 06:55:48 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]',
    ]
    const messages = await Promise.all(lines.map((line, i) => rawLog(String(i), {}, line)))
    const attemptsOf = async (countingKind: SshdLine['kind']) => {
      const sent = await featuresOf(messages, {
        // The one line its host's sessions took for the attempt counts; the verdict after it does not.
        sshdSessions: async (sshdLines) => new Map(sshdLines.map((l) => [l, { sessionIp: null, counts: l.kind === countingKind }])),
      })
      return sent.map((s) => (s.record.value as FeatureRecord).event.ssh?.attempt)
    }
    expect(await attemptsOf('invalid-user')).toEqual([true, false, false, undefined])
    expect(await attemptsOf('pam-failure')).toEqual([false, true, false, undefined])
    expect(await attemptsOf('failed-verdict')).toEqual([false, false, true, undefined])
  })

  it('writes the line that ends a connection whose client sent no identification (OpenSSH 8 on) as that, where its host\'s sessions pair it with the kex error', async () => {
    const lines = [
      'Nov 20 10:00:00 web1 sshd-session[901]: error: kex_exchange_identification: Connection closed by remote host',
      'Nov 20 10:00:00 web1 sshd-session[901]: Connection closed by 203.0.113.7 port 40001',
      'Nov 20 10:00:01 web1 sshd-session[902]: error: kex_exchange_identification: read: Connection reset by peer',
      'Nov 20 10:00:01 web1 sshd-session[902]: Connection reset by 203.0.113.7 port 40002',
      'Nov 20 10:00:02 web1 sshd-session[903]: Connection closed by 203.0.113.7 port 40003 [preauth]',
      'Nov 20 10:00:03 web1 sshd-session[904]: Connection closed by authenticating user git 203.0.113.7 port 40004',
      'Nov 20 10:00:04 web1 sshd-session[905]: error: kex_exchange_identification: banner line contains invalid characters',
    ]
    const messages = await Promise.all(lines.map((line, i) => rawLog(String(i), {}, `<38>${line}`)))
    const seen: Array<SshdLine['kind']> = []
    const actionsWhen = async (paired: boolean) => {
      const sent = await featuresOf(messages, {
        sshdSessions: async (sshdLines) => {
          seen.splice(0, seen.length, ...sshdLines.map((l) => l.kind))
          return new Map(sshdLines.map((l) => [l, { sessionIp: null, counts: paired && l.kind === 'closing' }]))
        },
      })
      return sent.map((s) => (s.record.value as FeatureRecord).event.event.action)
    }
    expect(await actionsWhen(true)).toEqual(['ssh_kex_failed', 'ssh_no_identification', 'ssh_kex_failed', 'ssh_no_identification', 'ssh_connection_closed', 'ssh_connection_closed', 'ssh_kex_failed'])
    expect(seen).toEqual(['kex-unidentified', 'closing', 'kex-unidentified', 'closing', 'other', 'other', 'other'])
    // Unpaired (a known scanner's version string before it, a session left at VERBOSE), it stays as sshd wrote it.
    expect(await actionsWhen(false)).toEqual(['ssh_kex_failed', 'ssh_connection_closed', 'ssh_kex_failed', 'ssh_connection_reset', 'ssh_connection_closed', 'ssh_connection_closed', 'ssh_kex_failed'])
  })
})
