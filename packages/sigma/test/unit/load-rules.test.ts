import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createSigmaEngine } from '../../src/engine.ts'
import { loadRuleSet } from '../../src/load-rules.ts'
import { loadReport } from '../../src/load-report.ts'
import { webEvent } from './helpers.ts'

const GOOD = `title: Good\nid: g1\nauthor: Alice\nlevel: high\nreferences: [https://example.org/r]\nlogsource: {category: webserver}\ndetection:\n  s:\n    cs-uri-query|contains: '/etc/passwd'\n  condition: s\n`

describe('loading rules', () => {
  it('skips what does not parse or compile with its file and reason, and loads the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigma-'))
    writeFileSync(join(dir, 'LICENSE'), 'Detection Rule License (DRL) 1.1\n')
    writeFileSync(join(dir, 'good.yml'), GOOD)
    writeFileSync(join(dir, 'broken.yml'), 'title: [unclosed\n')
    writeFileSync(join(dir, 'bad-condition.yml'), GOOD.replace('id: g1', 'id: b1').replace('condition: s', 'condition: s and nothere'))
    writeFileSync(join(dir, 'bad-regex.yml'), GOOD.replace('id: g1', 'id: b2').replace("cs-uri-query|contains: '/etc/passwd'", "cs-uri-query|re: '(?<=a)b'"))
    writeFileSync(join(dir, 'no-source.yml'), GOOD.replace('id: g1', 'id: b3').replace('category: webserver', 'product: linux, category: process_creation'))
    writeFileSync(join(dir, 'unmapped.yml'), GOOD.replace('id: g1', 'id: b4').replace('cs-uri-query|contains', 'cs-cookie|contains'))
    writeFileSync(join(dir, 'zz-dup.yml'), GOOD)
    const set = loadRuleSet([dir])
    expect(set.detections.map((d) => d.rule.attribution.id)).toEqual(['g1'])
    expect(Object.fromEntries(set.skipped.map((s) => [s.file.slice(dir.length + 1), s.code]))).toEqual({
      'bad-condition.yml': 'CONDITION_INVALID', 'bad-regex.yml': 'REGEX_UNSUPPORTED', 'broken.yml': 'YAML_INVALID',
      'zz-dup.yml': 'DUPLICATE_ID', 'no-source.yml': 'NO_EVENT_SOURCE', 'unmapped.yml': 'FIELD_UNMAPPED',
    })
    const report = loadReport(set)
    expect(report.missingFields).toEqual([{ field: 'cs-cookie', rules: 1 }])
    expect(report.noSource).toEqual([{ logsource: 'product: linux, category: process_creation', rules: 1 }])
  })

  it('carries the attribution the Detection Rule License asks for into every match', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigma-'))
    writeFileSync(join(dir, 'LICENSE'), 'released under the Detection Rule License (DRL) 1.1\n')
    writeFileSync(join(dir, 'good.yml'), GOOD)
    const [match] = createSigmaEngine(loadRuleSet([dir])).match(webEvent({ url: { original: '/x?f=../../etc/passwd' } }))
    expect(match!.rule).toMatchObject({ id: 'g1', title: 'Good', author: 'Alice', level: 'high', references: ['https://example.org/r'], license: 'DRL-1.1' })
  })

  it('finds the same matches with and without the literal index', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigma-'))
    writeFileSync(join(dir, 'a.yml'), GOOD)
    writeFileSync(join(dir, 'b.yml'), GOOD.replace('id: g1', 'id: g2').replace("cs-uri-query|contains: '/etc/passwd'", "cs-uri-query|re: '(?i)UNION.+SELECT'"))
    writeFileSync(join(dir, 'c.yml'), GOOD.replace('id: g1', 'id: g3').replace("cs-uri-query|contains: '/etc/passwd'", "sc-status: 500").replace('condition: s', 'condition: not s'))
    const set = loadRuleSet([dir])
    const indexed = createSigmaEngine(set)
    const plain = createSigmaEngine(set, { literalIndex: false })
    const uris = ['/etc/passwd', '/?q=union+all+select', '/?q=UNION%20SELECT', '/ok', '/PASSWD/../etc/passwd?union=select']
    for (const [i, original] of uris.entries()) {
      const e = webEvent({ url: { original }, http: { response: { status_code: i % 2 === 0 ? 500 : 200 } } })
      expect(indexed.match(e).map((m) => m.rule.id)).toEqual(plain.match(e).map((m) => m.rule.id))
    }
    expect(indexed.stats.evaluated).toBeLessThan(plain.stats.evaluated)
  })
})

describe('loading the SigmaHQ linux/web/zeek rules (test/fixtures/sigma)', () => {
  const corpus = fileURLToPath(new URL('../../../../test/fixtures/sigma', import.meta.url))

  it('accounts for every rule, skips only for what our events lack, and keeps each loaded rule\'s attribution', () => {
    const set = loadRuleSet([corpus])
    const files = readdirSync(corpus, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yml'))
    expect(set.detections.length + set.correlations.length + set.skipped.length).toBe(files.length)
    // Every rule parses and compiles; the skips are logsources or fields Vigil's events do not have.
    expect([...new Set(set.skipped.map((s) => s.code))].sort()).toEqual(['FIELD_UNMAPPED', 'NO_EVENT_SOURCE'])
    // The web, Zeek and sshd/syslog rules all load (194 at SigmaHQ's commit in the README).
    expect(set.detections.length).toBeGreaterThanOrEqual(194)
    for (const d of set.detections) {
      expect(d.rule.attribution.license).toBe('DRL-1.1')
      expect(d.rule.attribution.author).toMatch(/\S/)
    }
  })
})
