import { describe, expect, it } from 'vitest'
import { createSigmaEngine } from '../../src/engine.ts'
import { EVENT_SOURCES, sourceOf } from '../../src/field-mapping.ts'
import { compileRuleSet } from '../../src/load-rules.ts'
import type { SigmaEvent } from '../../src/sigma-event.ts'

let n = 0

/** A Zeek JSON record as the featurizer types it; `log` is the line's `_path`, which the sender chooses. */
function zeekEvent(log: string, record: Record<string, unknown> = {}): SigmaEvent {
  const original = JSON.stringify({ _path: log, uid: 'C1', 'id.orig_h': '10.0.0.66', ...record })
  return {
    eventId: `z${n++}`, family: 'zeek', eventTime: 0,
    event: {
      timestamp: 0, message: '', zeek: { log }, source: { ip: '10.0.0.66' },
      event: { kind: 'event', category: ['network'], type: ['info'], action: `zeek_${log}`, outcome: 'unknown', module: 'zeek', dataset: `zeek.${log}`, original },
    },
  }
}

const rule = (id: string, logsource: string, selection: string) =>
  ({ file: `${id}.yml`, text: `title: ${id}\nid: ${id}\nlogsource: ${logsource}\ndetection:\n  selection:\n    ${selection}\n  condition: selection\n` })

// A rule for any Zeek log, one for conn only, and one for a log no source is listed for.
const rules = compileRuleSet([
  rule('any-zeek', '{product: zeek}', "id.orig_h: '10.0.0.66'"),
  rule('conn-only', '{product: zeek, service: conn}', "id.orig_h: '10.0.0.66'"),
  rule('modbus-only', '{product: zeek, service: modbus}', "id.orig_h: '10.0.0.66'"),
])
const matchedIds = (engine: ReturnType<typeof createSigmaEngine>, event: SigmaEvent) => engine.match(event).map((m) => m.rule.id)

describe('Zeek log names from the input', () => {
  it('many distinct names grow no state: they share one source, one index and the rules compiled at load', () => {
    const engine = createSigmaEngine(rules)
    const compiledAtLoad = rules.detections.map((d) => d.compiled.length)
    for (let i = 0; i < 2000; i++) expect(matchedIds(engine, zeekEvent(`spoofed_${i}`))).toEqual(['any-zeek'])
    expect(engine.stats).toMatchObject({ events: 2000, sources: 1 })
    expect(rules.detections.map((d) => d.compiled.length)).toEqual(compiledAtLoad)
    expect(new Set(['x1', 'x2', 'modbus', '__proto__'].map((log) => sourceOf(zeekEvent(log)))).size).toBe(1)
    expect(EVENT_SOURCES).toContain(sourceOf(zeekEvent('x1')))
  })

  it('keeps each listed log its own source, so rules naming its service still apply, and only there', () => {
    const engine = createSigmaEngine(rules)
    expect(sourceOf(zeekEvent('conn')).key).toBe('zeek.conn')
    expect(sourceOf(zeekEvent('http')).categories).toEqual(['proxy'])
    expect(matchedIds(engine, zeekEvent('conn'))).toEqual(['any-zeek', 'conn-only'])
    expect(matchedIds(engine, zeekEvent('dns'))).toEqual(['any-zeek'])
    expect(matchedIds(engine, zeekEvent('x1'))).toEqual(['any-zeek'])
    expect(engine.stats.sources).toBe(3)
    // A service no source is listed for loads nothing, as before: its rule says so in the load report.
    expect(rules.skipped.map((s) => [s.id, s.code])).toEqual([['modbus-only', 'NO_EVENT_SOURCE']])
  })
})
