import type { EcsEvent } from '@vigil/schemas'
import { compileRuleSet } from '../../src/load-rules.ts'
import { createSigmaEngine } from '../../src/engine.ts'
import type { SigmaEvent } from '../../src/sigma-event.ts'

let n = 0

/** A web access event with the given ECS parts (the rest filled as the featurizer would). */
export function webEvent(parts: Partial<EcsEvent> & { original?: string }, time = 0): SigmaEvent {
  const { original, ...ecs } = parts
  return {
    eventId: `e${n++}`, family: 'web', eventTime: time,
    event: {
      timestamp: time, message: original ?? '',
      event: { kind: 'event', category: ['web'], type: ['access'], action: 'http_request', outcome: 'success', module: 'web', dataset: 'web.access', original: original ?? '' },
      ...ecs,
    },
  }
}

/** An sshd syslog event whose line is `line`. */
export function sshdEvent(line: string, time = 0, sourceIp?: string): SigmaEvent {
  return {
    eventId: `e${n++}`, family: 'sshd', eventTime: time,
    event: {
      timestamp: time, message: line, process: { name: 'sshd' },
      event: { kind: 'event', category: ['authentication'], type: ['info'], action: 'ssh_login', outcome: 'unknown', module: 'sshd', original: line },
      ...(sourceIp && { source: { ip: sourceIp } }),
    },
  }
}

/** Compiles one rule (YAML) and says whether it matches the event; throws what the loader would skip it for. */
export function ruleMatches(yaml: string, event: SigmaEvent): boolean {
  const set = compileRuleSet([{ file: 'test.yml', text: yaml }])
  if (set.skipped.length > 0) throw new Error(`${set.skipped[0]!.code}: ${set.skipped[0]!.reason}`)
  return createSigmaEngine(set).match(event).length > 0
}

/** A webserver rule with one detection item, for modifier tests. */
export function webRule(item: string, condition = 'selection'): string {
  return `title: t\nid: r1\nlogsource: {category: webserver}\ndetection:\n  selection:\n    ${item}\n  condition: ${condition}\n`
}
