import { logLevel } from 'kafkajs'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { logKafkajsEntry } from '../../src/kafka.ts'

function capture() {
  const lines: Array<{ level: number; msg: string; error?: string }> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
  return { log, lines }
}
const PINO_WARN = 40
const PINO_ERROR = 50
// kafkajs's LogEntry.log: the entry's own fields beside its namespace, level and label
const entry = (message: string, extra: Record<string, unknown> = {}) => ({ timestamp: '2026-11-22T20:07:26.396Z', logger: 'kafkajs', message, ...extra })

describe('kafkajs entries in the service log', () => {
  it("logs a broker's error answer, which kafkajs retries or throws to its caller, as a warning with its details", () => {
    const { log, lines } = capture()
    logKafkajsEntry(log, logLevel.ERROR, entry('Response CreateTopics(key: 19, version: 3)', { error: 'Topic creation errors', correlationId: 4 }))
    logKafkajsEntry(log, logLevel.ERROR, entry('Response ListOffsets(key: 2, version: 3)', { error: 'This server is not the leader for that topic-partition' }))
    expect(lines.map((l) => [l.level, l.msg, l.error])).toEqual([
      [PINO_WARN, 'Response CreateTopics(key: 19, version: 3)', 'Topic creation errors'],
      [PINO_WARN, 'Response ListOffsets(key: 2, version: 3)', 'This server is not the leader for that topic-partition'],
    ])
  })

  it('keeps the errors kafkajs reports of its own at error level, and the rest at warn', () => {
    const { log, lines } = capture()
    logKafkajsEntry(log, logLevel.ERROR, entry('[Consumer] Crash: KafkaJSNumberOfRetriesExceeded', { error: 'Connection error' }))
    logKafkajsEntry(log, logLevel.WARN, entry('[Connection] Connection timeout'))
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[PINO_ERROR, '[Consumer] Crash: KafkaJSNumberOfRetriesExceeded'], [PINO_WARN, '[Connection] Connection timeout']])
  })
})
