// In-memory doubles of the alert path's adapters for the rules' unit tests: the same contracts as
// the Postgres store (unique alert ids, an event counted once per alert, published once), the
// outbox and the producer.
import { isIP } from 'node:net'
import type { DeliveredMessage, TypedProducer } from '@vigil/platform'
import { featureNames, usersNamedIn, type Alert, type FeatureRecord } from '@vigil/schemas'
import { foldedInto, type RecordedAlert } from '../../src/adapters/alert-store.ts'
import type { Flag, FlaggedEntities } from '../../src/rules/flagged-entities.ts'
import type { RaiseDeps } from '../../src/rules/raise-alerts.ts'

export function memoryAlertStore() {
  const alerts = new Map<string, { body: Alert; users: Set<string>; published: boolean; routedSeverityId: number; events: Set<string> }>()
  const needsRouting = (row: { body: Alert; published: boolean; routedSeverityId: number }) => row.published && row.body.severityId > row.routedSeverityId
  return {
    alerts,
    async record(alert: Alert, eventId: string, _eventTime?: number, named?: readonly string[]): Promise<RecordedAlert | null> {
      let row = alerts.get(alert.alertId)
      const inserted = row === undefined
      row ??= { body: alert, users: new Set(named ?? usersNamedIn(alert)), published: false, routedSeverityId: 0, events: new Set() }
      const users = [...row.users]
      alerts.set(alert.alertId, row)
      if (row.events.has(eventId)) {
        if (!row.published) return { alert: row.body, users, needsPublishing: true, needsRouting: false }
        return needsRouting(row) ? { alert: row.body, users, needsPublishing: false, needsRouting: true } : null
      }
      row.events.add(eventId)
      if (!inserted) {
        const rises = alert.severityId > row.body.severityId
        row.body = { ...row.body, ...foldedInto(row.body, alert, 10), ...(rises ? { severity: alert.severity, severityId: alert.severityId } : {}) }
        for (const user of named ?? usersNamedIn(alert)) row.users.add(user)
      }
      return { alert: row.body, users: [...row.users], needsPublishing: !row.published, needsRouting: needsRouting(row) }
    },
    async publishOnce(ids: string[], publish: (alerts: Alert[]) => Promise<void>) {
      const claimed = ids.map((id) => alerts.get(id)!).filter((row) => !row.published)
      if (claimed.length > 0) await publish(claimed.map((row) => row.body))
      for (const row of claimed) {
        row.published = true
        row.routedSeverityId = Math.max(row.routedSeverityId, row.body.severityId)
      }
      return claimed.map((row) => row.body)
    },
    async routeRises(ids: string[], route: (alerts: Alert[]) => Promise<void>) {
      const claimed = ids.map((id) => alerts.get(id)!).filter(needsRouting)
      if (claimed.length > 0) await route(claimed.map((row) => row.body))
      for (const row of claimed) row.routedSeverityId = Math.max(row.routedSeverityId, row.body.severityId)
      return claimed.map((row) => row.body)
    },
    suppressed: new Map<string, number>(),
    async markSuppressed(rows: Array<{ alertId: string; suppressionId: number }>) {
      for (const { alertId, suppressionId } of rows) {
        const row = alerts.get(alertId)!
        if (row.published) continue
        row.published = true
        row.routedSeverityId = Infinity // resolved: never routed
        this.suppressed.set(alertId, suppressionId)
      }
    },
  }
}

/** The store, producer and outbox of one alerter, in memory. */
export function memoryRaiseDeps() {
  const store = memoryAlertStore()
  const published: Alert[] = []
  const enqueued: Alert[] = []
  const producer: Pick<TypedProducer, 'send'> = {
    send: async (_topic, records) => {
      for (const r of records) published.push(r.value as Alert)
    },
  }
  const deps: RaiseDeps = { store, producer, sinks: { enqueue: async (alerts) => void enqueued.push(...alerts) } }
  return { deps, store, published, enqueued }
}

export function memoryFlags(): FlaggedEntities & { flags: Flag[] } {
  const flags: Flag[] = []
  return { flags, flag: async (f) => void flags.push(...f) }
}

const T0 = Date.UTC(2025, 11, 10, 6, 55, 46)

/** A `features` record of an sshd line from `ip`, `seconds` after T0, as the featurizer makes it. */
export function sshdRecord(i: number, seconds: number, ip: string, action: string, line: string): FeatureRecord {
  const eventTime = T0 + seconds * 1000
  return {
    eventId: `raw-logs/0/${i}`, entity: { kind: 'source.ip', id: ip }, eventTime, receivedAt: eventTime + 5, family: 'sshd',
    event: {
      timestamp: eventTime, message: line, source: { ip }, process: { name: 'sshd', pid: 24200 }, host: { name: 'LabSZ' },
      event: { kind: 'event', category: ['authentication'], type: ['info'], action, outcome: 'failure', module: 'sshd', original: line },
    },
    evidence: { topic: 'raw-logs', partition: 0, offset: String(i) },
    vector: Object.fromEntries(featureNames.map((n) => [n, n === 'auth_failures' ? i : 0])) as unknown as FeatureRecord['vector'],
  }
}

/** A `features` record of an access log line: `client` (an address, or a name) asked for `target` and got `status`, `seconds` after T0. */
export function webRecord(i: number, seconds: number, client: string, status: number, target: string): FeatureRecord {
  const byName = isIP(client) === 0
  const eventTime = T0 + seconds * 1000
  const line = `${client} - - [10/Dec/2025:06:55:46 +0000] "GET ${target} HTTP/1.0" ${status} 1041 "-" "-"`
  const [path, query] = target.split('?', 2) as [string, string | undefined]
  return {
    eventId: `raw-logs/0/${i}`, entity: { kind: byName ? 'source.domain' : 'source.ip', id: client }, eventTime, receivedAt: eventTime + 5, family: 'web',
    event: {
      timestamp: eventTime, message: line, source: byName ? { domain: client } : { ip: client },
      event: { kind: 'event', category: ['web'], type: ['access'], action: 'http_request', outcome: status < 400 ? 'success' : 'failure', module: 'web', dataset: 'web.access', original: line },
      http: { request: { method: 'GET' }, response: { status_code: status, bytes: 1041 }, version: '1.0' },
      url: { original: target, path, ...(query !== undefined && { query }) },
    },
    evidence: { topic: 'raw-logs', partition: 0, offset: String(i) },
    vector: Object.fromEntries(featureNames.map((n) => [n, 0])) as unknown as FeatureRecord['vector'],
  }
}

export const failedLogin = (i: number, seconds: number, ip: string) =>
  sshdRecord(i, seconds, ip, 'ssh_login_failed', `Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from ${ip} port ${40000 + i} ssh2`)

export function delivered<T>(values: readonly T[], partition = 0): DeliveredMessage<T>[] {
  return values.map((value, i) => ({ value, key: null, topic: 't', partition, offset: String(i), timestamp: 0, headers: {} }))
}
