import { describe, expect, it } from 'vitest'
import { describeIssues, listAlertsQuery, newSuppressionBody, previewBody, suppressionIdParam, verdictBody } from '../../src/api/requests.ts'
import { compileMatch, normalizeMatch, type AlertSubject, type SuppressionMatch } from '../../src/api/suppression-match.ts'

const FUTURE = new Date(Date.now() + 86_400_000).toISOString()
const problems = (result: { success: boolean; error?: unknown }) =>
  result.success ? [] : describeIssues(result.error as Parameters<typeof describeIssues>[0]).map((i) => `${i.path}: ${i.message}`)

describe('request validation', () => {
  it('reads the alert list query, with defaults', () => {
    expect(listAlertsQuery.parse({})).toEqual({ limit: 100 })
    const q = listAlertsQuery.parse({ entity: '10.0.0.1', severity: 'high', status: 'open', verdict: 'none', since: '2026-06-01T12:00:00Z', until: '1780000000000', limit: '5' })
    expect(q).toMatchObject({ entity: '10.0.0.1', severity: 'high', status: 'open', verdict: 'none', limit: 5 })
    expect(q.since).toEqual(new Date('2026-06-01T12:00:00Z'))
    expect(q.until).toEqual(new Date(1_780_000_000_000))
  })

  it('names each wrong query parameter', () => {
    expect(problems(listAlertsQuery.safeParse({ sevrity: 'high' }))).toEqual([': unknown field(s) "sevrity"'])
    expect(problems(listAlertsQuery.safeParse({ severity: 'urgent' }))[0]).toMatch(/^severity: Invalid option/)
    expect(problems(listAlertsQuery.safeParse({ limit: '0' }))[0]).toMatch(/^limit: /)
    expect(problems(listAlertsQuery.safeParse({ limit: '5000' }))).toEqual(['limit: must be at most 1000'])
    expect(problems(listAlertsQuery.safeParse({ limit: 'ten' }))).toEqual(['limit: must be a whole number'])
    expect(problems(listAlertsQuery.safeParse({ since: 'yesterday' }))[0]).toMatch(/^since: must be an ISO 8601 date-time/)
    expect(problems(listAlertsQuery.safeParse({ since: '2026-06-01T12:00:00' }))[0]).toMatch(/^since: /) // no zone: ambiguous
  })

  it('reads a verdict', () => {
    expect(verdictBody.parse({ verdict: 'false_positive', note: ' backup job ' })).toEqual({ verdict: 'false_positive', note: 'backup job' })
    expect(problems(verdictBody.safeParse({ verdict: 'benign' }))[0]).toMatch(/^verdict: Invalid option/)
    expect(problems(verdictBody.safeParse({}))[0]).toMatch(/^verdict: /)
    expect(problems(verdictBody.safeParse({ verdict: 'true_positive', note: '' }))[0]).toMatch(/^note: /)
    expect(problems(verdictBody.safeParse({ verdict: 'true_positive', severity: 'low' }))).toEqual([': unknown field(s) "severity"'])
    expect(verdictBody.safeParse(null).success).toBe(false)
    expect(verdictBody.safeParse([]).success).toBe(false)
  })

  it('reads a suppression and normalizes what it matches', () => {
    const s = newSuppressionBody.parse({ scope: 'cidr', value: ' 192.168.1.7 ', reason: 'scanner', expiresAt: FUTURE, alertId: 'abc123' })
    expect(s).toMatchObject({ scope: 'cidr', value: '192.168.1.7/32', reason: 'scanner', alertId: 'abc123' })
    expect(s.expiresAt).toEqual(new Date(FUTURE))
    expect(newSuppressionBody.parse({ scope: 'rule', value: 'sigma:ssh-brute', reason: 'r', expiresAt: FUTURE }).value).toBe('ssh-brute')
    expect(newSuppressionBody.parse({ scope: 'entity', value: 'web-1', entityKind: 'host.name', reason: 'r', expiresAt: FUTURE }).entityKind).toBe('host.name')
  })

  it('names what is wrong with a suppression', () => {
    const base = { scope: 'cidr', value: '10.0.0.0/8', reason: 'lab', expiresAt: FUTURE }
    expect(problems(newSuppressionBody.safeParse({ ...base, value: '10.0.0.1/8' }))).toEqual(['value: 10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?'])
    expect(problems(newSuppressionBody.safeParse({ ...base, value: 'lab-net' }))).toEqual(['value: "lab-net" is not an IPv4 or IPv6 address'])
    expect(problems(newSuppressionBody.safeParse({ ...base, entityKind: 'source.ip' }))).toEqual(['entityKind: entityKind applies to the entity scope only'])
    expect(problems(newSuppressionBody.safeParse({ ...base, scope: 'host' }))[0]).toMatch(/^scope: Invalid option/)
    expect(problems(newSuppressionBody.safeParse({ ...base, scope: 'entity', value: '  ' }))).toEqual(['value: value must not be empty'])
    expect(problems(newSuppressionBody.safeParse({ ...base, expiresAt: '2020-01-01T00:00:00Z' }))).toEqual(['expiresAt: must be in the future'])
    expect(problems(newSuppressionBody.safeParse({ ...base, expiresAt: 'next week' }))[0]).toMatch(/^expiresAt: must be an ISO 8601 date-time/)
    expect(problems(newSuppressionBody.safeParse({ ...base, reason: undefined }))[0]).toMatch(/^reason: /)
    expect(problems(newSuppressionBody.safeParse({ ...base, expiresAt: undefined }))[0]).toMatch(/^expiresAt: /)
    expect(problems(newSuppressionBody.safeParse({ ...base, alertId: 'a b' }))).toEqual(['alertId: is not an alert id'])
  })

  it('lets a preview take the same body a save takes, or only the match', () => {
    expect(previewBody.parse({ scope: 'user', value: 'backup' })).toEqual({ scope: 'user', value: 'backup' })
    expect(previewBody.parse({ scope: 'cidr', value: '10.1.0.0/16', reason: 'r', expiresAt: FUTURE }).value).toBe('10.1.0.0/16')
    expect(previewBody.safeParse({ scope: 'user' }).success).toBe(false)
  })

  it('reads suppression ids', () => {
    expect(suppressionIdParam.parse('42')).toBe(42)
    for (const bad of ['0', '-1', '1.5', '01', 'x', '1e3', '']) expect(suppressionIdParam.safeParse(bad).success, bad).toBe(false)
  })
})

describe('suppression scopes', () => {
  const alert = (kind: string, id: string, detector = 'model:default'): AlertSubject => ({ detector, entity: { kind, id } })
  const covers = (m: SuppressionMatch, a: AlertSubject) => compileMatch(normalizeMatch(m))(a)

  it('entity: the id, and the kind when given', () => {
    expect(covers({ scope: 'entity', value: '10.0.0.5' }, alert('source.ip', '10.0.0.5'))).toBe(true)
    expect(covers({ scope: 'entity', value: '10.0.0.5' }, alert('host.name', '10.0.0.5'))).toBe(true)
    expect(covers({ scope: 'entity', value: '10.0.0.5', entityKind: 'host.name' }, alert('source.ip', '10.0.0.5'))).toBe(false)
    expect(covers({ scope: 'entity', value: '10.0.0.5' }, alert('source.ip', '10.0.0.50'))).toBe(false)
  })

  it('entity: an address pasted as a firewall writes it, every digit, covers the entity the featurizer wrote short; so does one stored so', () => {
    const full = '2001:0DB8:0000:0000:0000:0000:0000:0007'
    expect(normalizeMatch({ scope: 'entity', value: full }).value).toBe('2001:db8::7')
    expect(covers({ scope: 'entity', value: full }, alert('source.ip', '2001:db8::7'))).toBe(true)
    expect(compileMatch({ scope: 'entity', value: full })(alert('source.ip', '2001:db8::7'))).toBe(true)
    expect(covers({ scope: 'entity', value: '::ffff:10.0.0.5' }, alert('source.ip', '10.0.0.5'))).toBe(true)
    expect(covers({ scope: 'entity', value: 'web1' }, alert('host.name', 'web1'))).toBe(true)
  })

  it('cidr: entities whose id is an address in the network, whatever their kind', () => {
    const m: SuppressionMatch = { scope: 'cidr', value: '10.0.0.0/24' }
    expect(covers(m, alert('source.ip', '10.0.0.200'))).toBe(true)
    expect(covers(m, alert('host.name', '10.0.0.7'))).toBe(true)
    expect(covers(m, alert('source.ip', '10.0.1.1'))).toBe(false)
    expect(covers(m, alert('host.name', 'web-10.0.0.7'))).toBe(false)
    expect(covers(m, alert('user.name', 'root'))).toBe(false)
  })

  it('user: user.name entities only', () => {
    expect(covers({ scope: 'user', value: 'backup' }, alert('user.name', 'backup'))).toBe(true)
    expect(covers({ scope: 'user', value: 'backup' }, alert('source.user.name', 'backup'))).toBe(true)
    expect(covers({ scope: 'user', value: 'backup' }, alert('host.name', 'backup'))).toBe(false)
    expect(covers({ scope: 'user', value: 'backup' }, alert('user.name', 'Backup'))).toBe(false)
  })

  it('rule and detector: by the detector name', () => {
    expect(covers({ scope: 'rule', value: 'ssh-brute' }, alert('source.ip', '1.2.3.4', 'sigma:ssh-brute'))).toBe(true)
    expect(covers({ scope: 'rule', value: 'sigma:ssh-brute' }, alert('source.ip', '1.2.3.4', 'sigma:ssh-brute'))).toBe(true)
    expect(covers({ scope: 'rule', value: 'ssh-brute' }, alert('source.ip', '1.2.3.4', 'sigma:ssh-brute-2'))).toBe(false)
    expect(covers({ scope: 'rule', value: 'default' }, alert('source.ip', '1.2.3.4', 'model:default'))).toBe(false)
    expect(covers({ scope: 'detector', value: 'model:default' }, alert('source.ip', '1.2.3.4', 'model:default'))).toBe(true)
    expect(covers({ scope: 'detector', value: 'model:default' }, alert('source.ip', '1.2.3.4', 'sigma:ssh-brute'))).toBe(false)
  })
})
