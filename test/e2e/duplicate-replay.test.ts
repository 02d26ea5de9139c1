import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { topics, type Topic } from '@vigil/schemas'
import { withKafkaRetries } from '@vigil/platform'
import { freePort, OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

// The OpenSSH sample replayed twice through the whole pipeline, then every score and feature
// delivered to the alerter again (its consumer groups rewound, as after a lost commit): alerts
// fold repeats into the alert of their entity, detector and window, and the webhook (a real HTTP
// receiver) hears of each alert once. Meanwhile Slack is down for the first minute: once it is
// back, it too hears of every alert, once.
const lines = readLinesAsRecent(OPENSSH_SAMPLE)
const ALERTER_GROUPS = [['alerter', topics.scores], ['alerter-sigma', topics.features]] as const

describe('a duplicated replay', () => {
  let pipeline: Pipeline
  const webhook = receiver((body) => (JSON.parse(body) as { alertId: string }).alertId)
  const slack = receiver((body) => /Vigil alert `([0-9a-f]+)`/.exec(body)?.[1] ?? '?')
  const notified = webhook.alertIds
  let slackUp: Promise<void>

  beforeAll(async () => {
    const [webhookPort, slackPort] = [await freePort(), await freePort()]
    await webhook.listen(webhookPort)
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('dup'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'duplicate-replay'),
      env: {
        MODEL_TARGET_ALERT_RATE: '0.01', SINK_POLL_MS: '200', SINK_RETRY_MAX_MS: '5000',
        WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/vigil`, WEBHOOK_SECRET: 'a-webhook-secret-of-some-length', WEBHOOK_MIN_SEVERITY: 'low',
        SLACK_WEBHOOK_URL: `http://127.0.0.1:${slackPort}/services/T0/B0/x`, SLACK_MIN_SEVERITY: 'low',
      },
    })
    // Nothing listens on Slack's port for a minute: every attempt is refused.
    slackUp = new Promise((resolve) => setTimeout(resolve, 60_000)).then(() => slack.listen(slackPort))
  })
  afterAll(async () => {
    await pipeline?.stop()
    await Promise.all([webhook.close(), slack.close()])
  })

  it('notifies each alert once, however often its events arrive', async () => {
    const { reader } = pipeline
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines)
    await alerterCaughtUp(pipeline, lines.length)
    expect((await alertIds()).length).toBeGreaterThan(0)
    const countedOnce = eventsCounted((await query<{ event_count: number }>(pipeline, 'SELECT event_count FROM alerts WHERE published')).rows)

    // The same lines again: new events in the same windows.
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines)
    await alerterCaughtUp(pipeline, 2 * lines.length)

    // Every score and feature again, to a new alerter instance: redeliveries, counted once.
    const [alerter] = pipeline.services.alerter
    expect((await alerter!.stop('SIGTERM')).code).toBe(0)
    const admin = reader.kafka.admin()
    await admin.connect()
    try {
      for (const [group, topic] of ALERTER_GROUPS) {
        const groupId = `${pipeline.env.TOPIC_PREFIX}${group}`
        await admin.resetOffsets({ groupId, topic: reader.kafkaName(topic), earliest: true })
        const [rewound] = await withKafkaRetries(() => admin.fetchOffsets({ groupId, topics: [reader.kafkaName(topic)] }))
        expect(rewound!.partitions.every((o) => Number(o.offset) <= 0), `${group} rewound`).toBe(true)
      }
    } finally {
      await admin.disconnect()
    }
    const again = await pipeline.add('alerter')
    await again.waitReady()
    await alerterCaughtUp(pipeline, 2 * lines.length)

    const published = await alertIds()
    // Each alert is published once, and once more for each severity it rises to (never lower, never
    // the same twice), and notified once: no id twice at the receiver.
    const written = (await pipeline.reader.readAll(topics.alerts)).map((a) => a.value)
    for (const id of published) {
      const severities = written.filter((a) => a.alertId === id).map((a) => a.severityId)
      expect(severities, `alert ${id} on the topic`).toEqual([...new Set(severities)].sort((a, b) => a - b))
    }
    await waitFor('a notification for every published alert', async () => new Set(notified).size >= published.length, 60_000, 250)
    await new Promise((resolve) => setTimeout(resolve, 2 * 200 + 1_000)) // a late duplicate would arrive within a few polls
    expect([...notified].sort()).toEqual([...published].sort())

    // Slack, down for the first minute, hears of every alert once it is back, and of each once.
    await slackUp
    await waitFor('Slack to hear of every alert', async () => new Set(slack.alertIds).size >= published.length, 60_000, 250)
    await new Promise((resolve) => setTimeout(resolve, 2 * 200 + 1_000))
    expect([...slack.alertIds].sort()).toEqual([...published].sort())
    const outbox = await query<{ status: string; attempts: number; last_error: string | null }>(pipeline,
      "SELECT status, attempts, last_error FROM sink_outbox WHERE sink = 'slack'")
    expect(outbox.rows.map((r) => r.status)).toEqual(published.map(() => 'delivered'))
    // It was tried while down: refused connections, retried until it answered.
    expect(outbox.rows.some((r) => r.attempts > 1 && /ECONNREFUSED|UNREACHABLE/.test(r.last_error ?? ''))).toBe(true)
    // The duplicated events were folded into their alerts, not dropped, and the redelivered ones counted once.
    const { rows } = await query<{ event_count: number }>(pipeline, 'SELECT event_count FROM alerts WHERE published')
    expect(rows.length).toBe(published.length)
    expect(eventsCounted(rows)).toBeGreaterThan(countedOnce)
  })

  /** the ids of the alerts on `alerts`, each once */
  async function alertIds(): Promise<string[]> {
    return [...new Set((await pipeline.reader.readAll(topics.alerts)).map((a) => a.value.alertId))]
  }
})

/** Waits until every line is scored and both alerter groups have committed the ends of scores and features. */
async function alerterCaughtUp(p: Pipeline, expectedEvents: number): Promise<void> {
  const { reader } = p
  await waitFor(`${expectedEvents} scores`, async () => (await reader.count(topics.scores)) >= expectedEvents, 120_000, 500)
  const admin = reader.kafka.admin()
  await admin.connect()
  try {
    const caughtUp = async (group: string, topic: Topic<unknown>) => {
      const name = reader.kafkaName(topic)
      const ends = await withKafkaRetries(() => admin.fetchTopicOffsets(name))
      const [committed] = await withKafkaRetries(() => admin.fetchOffsets({ groupId: `${p.env.TOPIC_PREFIX}${group}`, topics: [name] }))
      const at = new Map(committed!.partitions.map((c) => [c.partition, Number(c.offset)]))
      return ends.every((e) => Number(e.high) === Number(e.low) || (at.get(e.partition) ?? -1) >= Number(e.high))
    }
    await waitFor('the alerter to consume every score and feature', async () =>
      (await caughtUp('alerter', topics.scores)) && (await caughtUp('alerter-sigma', topics.features)), 120_000, 500)
  } finally {
    await admin.disconnect()
  }
}

/** A local HTTP receiver that answers 204 and keeps the alert id of every request. */
function receiver(alertIdOf: (body: string) => string) {
  const alertIds: string[] = []
  let server: Server | null = null
  return {
    alertIds,
    listen: (port: number) => new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        let body = ''
        req.on('data', (chunk: Buffer) => (body += chunk.toString()))
        req.on('end', () => {
          alertIds.push(alertIdOf(body))
          res.writeHead(204).end()
        })
      })
      server.listen(port, '127.0.0.1', resolve)
    }),
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  }
}

const eventsCounted = (rows: Array<{ event_count: number }>) => rows.reduce((n, r) => n + Number(r.event_count), 0)

async function query<R extends object>(p: Pipeline, sql: string) {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: p.env.PG_URL })
  await client.connect()
  try {
    return await client.query<R>(sql)
  } finally {
    await client.end()
  }
}
