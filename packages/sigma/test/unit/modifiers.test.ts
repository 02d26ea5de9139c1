import { describe, expect, it } from 'vitest'
import { ruleMatches, webEvent, webRule } from './helpers.ts'

const uri = (original: string) => webEvent({ url: { original, path: original.split('?')[0]! }, original: `GET ${original}` })

describe('value modifiers', () => {
  it('matches plain values case-insensitively as a whole, with * and ? wildcards and their escapes', () => {
    expect(ruleMatches(webRule(`cs-uri-query: '/Index.PHP'`), uri('/index.php'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query: '/index'`), uri('/index.php'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query: '/i*.p?p'`), uri('/index.php'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query: '/a\\*b'`), uri('/a*b'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query: '/a\\*b'`), uri('/axxb'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query: '/a\\?b'`), uri('/axb'))).toBe(false)
  })

  it('contains, startswith and endswith', () => {
    expect(ruleMatches(webRule(`cs-uri-query|contains: 'passwd'`), uri('/x?f=/etc/PASSWD'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|startswith: '/admin'`), uri('/admin/x'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|startswith: '/admin'`), uri('/x/admin'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query|endswith: '.jsp'`), uri('/a/b.JSP'))).toBe(true)
  })

  it('a list is any of its values; with all, every one', () => {
    expect(ruleMatches(webRule(`cs-uri-query|contains: ['union', 'sleep(']`), uri('/?q=sleep(5)'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|contains|all: ['union', 'select']`), uri('/?q=union'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query|contains|all: ['union', 'select']`), uri('/?q=union+select'))).toBe(true)
  })

  it('cased is case-sensitive', () => {
    expect(ruleMatches(webRule(`cs-uri-query|cased|contains: 'SELECT'`), uri('/?q=select'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query|cased|contains: 'SELECT'`), uri('/?q=SELECT'))).toBe(true)
  })

  it('re is case-sensitive unless |i; m and s change ^, $ and .', () => {
    expect(ruleMatches(webRule(`cs-uri-query|re: 'UNION\\s+SELECT'`), uri('/?q=union select'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query|re|i: 'UNION\\s+SELECT'`), uri('/?q=union select'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|re: '^b$'`), uri('a\nb'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query|re|m: '^b$'`), uri('a\nb'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|re: 'a.b'`), uri('a\nb'))).toBe(false)
    expect(ruleMatches(webRule(`cs-uri-query|re|s: 'a.b'`), uri('a\nb'))).toBe(true)
  })

  it('cidr matches IPv4 and IPv6 networks', () => {
    const from = (ip: string) => webEvent({ source: { ip } })
    expect(ruleMatches(webRule(`c-ip|cidr: '10.0.0.0/8'`), from('10.200.3.4'))).toBe(true)
    expect(ruleMatches(webRule(`c-ip|cidr: '10.0.0.0/8'`), from('11.0.0.1'))).toBe(false)
    expect(ruleMatches(webRule(`c-ip|cidr: '172.16.0.0/12'`), from('172.31.255.255'))).toBe(true)
    expect(ruleMatches(webRule(`c-ip|cidr: '172.16.0.0/12'`), from('172.32.0.0'))).toBe(false)
    expect(ruleMatches(webRule(`c-ip|cidr: 'fe80::/10'`), from('fe80::1'))).toBe(true)
    expect(ruleMatches(webRule(`c-ip|cidr: '::1/128'`), from('::1'))).toBe(true)
    expect(ruleMatches(webRule(`c-ip|cidr: '::1/128'`), from('::2'))).toBe(false)
  })

  it('base64 and base64offset find a value inside base64 text at any byte offset', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64')
    expect(ruleMatches(webRule(`cs-uri-query|base64: 'admin'`), uri(b64('admin')))).toBe(true)
    for (const prefix of ['', 'x', 'xy', 'xyz']) {
      expect(ruleMatches(webRule(`cs-uri-query|base64offset|contains: '/etc/passwd'`), uri(`/?d=${b64(prefix + 'cat /etc/passwd now')}`))).toBe(true)
    }
    expect(ruleMatches(webRule(`cs-uri-query|base64offset|contains: '/etc/passwd'`), uri(`/?d=${b64('cat /etc/shadow')}`))).toBe(false)
  })

  it('wide encodes as UTF-16LE before base64', () => {
    const wide = Buffer.from('whoami', 'utf16le').toString('base64')
    expect(ruleMatches(webRule(`cs-uri-query|wide|base64: 'whoami'`), uri(wide))).toBe(true)
  })

  it('windash tries every dash Windows accepts', () => {
    expect(ruleMatches(webRule(`cs-uri-query|windash|contains: ' -enc '`), uri('/?c=x /enc y'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|windash|contains: ' -enc '`), uri('/?c=x \u2013enc y'))).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|windash|contains: ' -enc '`), uri('/?c=x +enc y'))).toBe(false)
  })

  it('exists, null and comparisons', () => {
    const status = (code: number) => webEvent({ http: { response: { status_code: code } } })
    expect(ruleMatches(webRule(`sc-status|exists: true`), status(200))).toBe(true)
    expect(ruleMatches(webRule(`sc-status|exists: false`), webEvent({}))).toBe(true)
    expect(ruleMatches(webRule(`cs-user-agent: null`), webEvent({}))).toBe(true)
    expect(ruleMatches(webRule(`cs-user-agent: null`), webEvent({ user_agent: { original: 'x' } }))).toBe(false)
    expect(ruleMatches(webRule(`sc-status: 200`), status(200))).toBe(true)
    expect(ruleMatches(webRule(`sc-status|gte: 500`), status(503))).toBe(true)
    expect(ruleMatches(webRule(`sc-status|gt: 500`), status(500))).toBe(false)
    expect(ruleMatches(webRule(`sc-status|lt: 300`), status(204))).toBe(true)
    expect(ruleMatches(webRule(`sc-status|lte: 300`), status(301))).toBe(false)
  })

  it('fieldref compares two fields of the event', () => {
    const e = webEvent({ url: { original: '/x', domain: 'a.example' }, http: { request: { referrer: 'A.example' } } })
    expect(ruleMatches(webRule(`cs-host|fieldref: cs-referer`), e)).toBe(true)
    expect(ruleMatches(webRule(`cs-uri-query|fieldref: cs-referer`), e)).toBe(false)
  })

  it('neq negates the whole item as pySigma does: not any of the values (with all, not all of them); a missing field matches', () => {
    const req = (method: string | undefined, status?: number) =>
      webEvent({ http: { ...(method !== undefined && { request: { method } }), ...(status !== undefined && { response: { status_code: status } }) } })
    const methods = ['GET', 'HEAD', 'POST', undefined] as const
    const verdicts = (item: string) => methods.map((m) => ruleMatches(webRule(item), req(m)))
    // pySigma (SQLite backend): NOT COALESCE((m='GET' OR m='HEAD'), 0); a missing field is NULL, so it matches.
    expect(verdicts(`cs-method|neq: ['GET', 'HEAD']`)).toEqual([false, false, true, true])
    expect(verdicts(`cs-method|neq: 'GET'`)).toEqual([false, true, true, true])
    expect(verdicts(`cs-method|neq|all: ['GET', 'HEAD']`)).toEqual([true, true, true, true])
    expect(verdicts(`cs-method|neq|contains: ['GE', 'EA']`)).toEqual([false, false, true, true])
    expect(verdicts(`cs-method|re|neq: '^(GET|HEAD)$'`)).toEqual([false, false, true, true])
    expect(verdicts(`cs-method|neq: null`)).toEqual([true, true, true, false])
    expect(verdicts(`cs-method|neq: ['GET', null]`)).toEqual([false, true, true, false])
    expect(verdicts(`cs-method|exists|neq: true`)).toEqual([false, false, false, true])
    const statuses = [200, 304, 500, undefined].map((s) => req('GET', s))
    expect(statuses.map((e) => ruleMatches(webRule(`sc-status|neq: [200, 304]`), e))).toEqual([false, false, true, true])
    expect(statuses.map((e) => ruleMatches(webRule(`sc-status|neq|gte: 500`), e))).toEqual([true, true, false, true])
    // Keywords: not any of them in the line.
    const line = (original: string) => webEvent({ original })
    expect(['GET /a', 'PUT /b', 'POST /c'].map((l) => ruleMatches(webRule(`'|neq': ['GET', 'PUT']`), line(l)))).toEqual([false, false, true])
  })

  it('refuses unknown modifiers and placeholders', () => {
    expect(() => ruleMatches(webRule(`cs-uri-query|expand: '%x%'`), webEvent({}))).toThrow(/MODIFIER_UNSUPPORTED/)
  })
})
