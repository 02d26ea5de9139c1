import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadRuleSet } from '@vigil/sigma'

const COPY = fileURLToPath(new URL('../../rules/sigmahq', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/sigma', import.meta.url))

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
}

describe("the alerter's copy of SigmaHQ rules", () => {
  const copied = filesUnder(COPY).map((f) => relative(COPY, f)).sort()

  it('is byte-identical to the repository copy of SigmaHQ (paths kept), license included', () => {
    expect(copied).toContain('LICENSE')
    expect(copied).toContain('LICENSE.Detection.Rules.md')
    for (const f of copied) expect(readFileSync(join(COPY, f)).equals(readFileSync(join(FIXTURE, f))), f).toBe(true)
  })

  it('holds only rules that load, none of them threat hunting, each with its author and the DRL', () => {
    const rules = copied.filter((f) => f.endsWith('.yml'))
    expect(rules.some((f) => f.startsWith('rules-threat-hunting'))).toBe(false)
    const set = loadRuleSet([COPY])
    expect(set.skipped).toEqual([])
    expect(set.detections).toHaveLength(rules.length)
    for (const d of set.detections) expect([d.rule.attribution.author, d.rule.attribution.license]).toEqual([expect.any(String), 'DRL-1.1'])
  })
})
