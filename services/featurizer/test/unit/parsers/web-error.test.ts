import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { avroProblems, lineEdits, mutate } from './parser-fuzz.ts'
import type { ParserInput } from '../../../src/parsers/family-parser.ts'
import { parseWebError, webErrorParser, webErrorTimestamp, type WebErrorFields } from '../../../src/parsers/web-error.ts'

const fixture = (path: string) => fileURLToPath(new URL(`../../../../../test/fixtures/${path}`, import.meta.url))
// Apache_2k.log mixes CRLF and CR line ends.
const linesOf = (path: string) => readFileSync(fixture(path), 'utf8').split(/\r\n|\r|\n/).filter((l) => l.length > 0)
const headerless = (line: string): ParserInput => ({ message: line, appName: null, line, zeek: null })
const rotations = (name: string) => ['6', '5', '4', '3', '2'].flatMap((n) => linesOf(`sotm34-honeynet/http/${name}.${n}`))

const SOURCES = {
  'sotm34 error_log.{6..2}': () => rotations('error_log'),
  'sotm34 ssl_error_log.{6..2}': () => rotations('ssl_error_log'),
  'loghub Apache_2k.log': () => linesOf('loghub/Apache_2k.log'),
}

const ERROR = { category: ['web'], type: ['error'], action: 'http_error', outcome: 'failure' as const, dataset: 'web.error', severity: 3 }
const info = (severity: number) => ({ category: ['web'], type: ['info'], action: 'http_error', outcome: 'unknown' as const, dataset: 'web.error', severity })



describe('parseWebError on real error logs', () => {
  it.each(Object.entries(SOURCES))('claims and parses every line of %s', (name, load) => {
    const lines = load()
    const claimed = lines.map(headerless).filter((i) => webErrorParser.claims(i))
    const parsed = claimed.map((i) => webErrorParser.parse(i)).filter((f) => f !== null)
    const levels = new Map<string, number>()
    for (const f of parsed) levels.set(f.log?.level ?? '?', (levels.get(f.log?.level ?? '?') ?? 0) + 1)
    const withClient = parsed.filter((f) => f.source?.ip).length
    console.log(`web error on ${name}: ${lines.length} lines, ${claimed.length} claimed, ${parsed.length} parsed (${((100 * parsed.length) / lines.length).toFixed(1)}%), ${withClient} with a client; levels ${JSON.stringify(Object.fromEntries(levels))}`)
    expect(claimed).toHaveLength(lines.length)
    expect(claimed.filter((i) => webErrorParser.parse(i) === null).map((i) => i.line)).toEqual([])
    expect(claimed.flatMap((i) => avroProblems(webErrorParser.parse(i)!, i.line))).toEqual([])
    expect(lines.filter((l) => webErrorTimestamp(l) === null)).toEqual([])
  })

  it('claims no access-log or syslog line', () => {
    const others = [...rotations('access_log'), ...linesOf('loghub/Linux_2k.log'), ...linesOf('sotm34-honeynet/syslog/messages.6')]
    expect(others.filter((l) => webErrorParser.claims(headerless(l)))).toEqual([])
  })

  it.each<[string, WebErrorFields]>([
    ['[Sun Jan 30 04:34:59 2005] [error] [client 218.22.22.40] Directory index forbidden by rule: /var/www/html/', {
      event: ERROR, log: { level: 'error' }, source: { ip: '218.22.22.40' },
    }],
    ['[Mon Feb 07 17:23:57 2005] [error] [client 222.95.39.192] File does not exist: /var/www/html/b.t, referer: Http://www.bbxiong.com', {
      event: ERROR, log: { level: 'error' }, source: { ip: '222.95.39.192' }, http: { request: { referrer: 'Http://www.bbxiong.com' } },
    }],
    ['[Wed Mar 02 09:39:23 2005] [error] [client 82.52.98.248] ', { event: ERROR, log: { level: 'error' }, source: { ip: '82.52.98.248' } }],
    ['[Sun Jan 30 04:33:18 2005] [notice] Digest: done', { event: info(5), log: { level: 'notice' } }],
    ['[Sun Jan 30 04:33:18 2005] [warn] RSA server certificate is a CA certificate (BasicConstraints: CA == TRUE !?)', { event: info(4), log: { level: 'warn' } }],
    ['[Sun Jan 30 20:27:31 2005] [error] Spurious SSL handshake interrupt [Hint: Usually just one of those OpenSSL confusions!?]', { event: ERROR, log: { level: 'error' } }],
    ['[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6', { event: ERROR, log: { level: 'error' } }],
    ['[Sun Dec 04 04:51:08 2005] [notice] jk2_init() Found child 6725 in scoreboard slot 10', { event: info(5), log: { level: 'notice' } }],
  ])('reads %j', (line, expected) => {
    const all = Object.values(SOURCES).flatMap((load) => load())
    expect(all).toContain(line)
    expect(parseWebError(line)).toEqual(expected)
  })
})

describe('parseWebError on Apache 2.4 and nginx', () => {
  it.each<[string, WebErrorFields]>([
    ['[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:49316] AH00128: File does not exist: /usr/local/apache2/htdocs/favicon.ico', {
      event: ERROR, log: { level: 'error' }, process: { pid: 35708 }, source: { ip: '72.15.99.187', port: 49316 },
    }],
    ['[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] (13)Permission denied: [client 72.15.99.187:49316] AH00035: access to /index.html denied', {
      event: ERROR, log: { level: 'error' }, process: { pid: 35708 }, source: { ip: '72.15.99.187', port: 49316 },
    }],
    // 2.4 writes an IPv6 client and its port without brackets.
    ['[Tue Jan 02 03:04:05.000006 2024] [authz_core:error] [pid 812:tid 139] [client 2001:db8::7:51234] AH01630: client denied by server configuration: /srv/www/.git, referer: https://example.com/', {
      event: ERROR, log: { level: 'error' }, process: { pid: 812 }, source: { ip: '2001:db8::7', port: 51234 }, http: { request: { referrer: 'https://example.com/' } },
    }],
    ['[Mon Jan 01 00:00:00.000001 2024] [mpm_event:notice] [pid 1:tid 140] AH00489: Apache/2.4.58 (Unix) configured -- resuming normal operations', {
      event: info(5), log: { level: 'notice' }, process: { pid: 1 },
    }],
    ['[Mon Jan 01 00:00:00.000001 2024] [ssl:trace3] [pid 9] ssl_engine_io.c(2261): [client 203.0.113.4:443] OpenSSL: Handshake: start', {
      event: info(7), log: { level: 'trace3' }, process: { pid: 9 }, source: { ip: '203.0.113.4', port: 443 },
    }],
    ['[Mon Jan 01 00:00:00 2024] [proxy:error] [pid 9:tid 1] [remote 10.0.0.5:8080] AH00957: http: attempt to connect to 10.0.0.5:8080 failed', {
      event: ERROR, log: { level: 'error' }, process: { pid: 9 }, source: { ip: '10.0.0.5', port: 8080 },
    }],
    ['2024/01/01 12:00:00 [error] 1234#0: *5 open() "/usr/share/nginx/html/x" failed (2: No such file or directory), client: 1.2.3.4, server: example.com, request: "GET /x HTTP/1.1", host: "example.com"', {
      event: ERROR, log: { level: 'error' }, process: { pid: 1234 }, source: { ip: '1.2.3.4' },
      url: { original: '/x', path: '/x', domain: 'example.com' }, http: { version: '1.1', request: { method: 'GET' } },
    }],
    ['2024/01/01 12:00:00 [error] 31#31: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 172.17.0.1, server: localhost, request: "GET /api/v1/users?id=7 HTTP/1.1", upstream: "http://127.0.0.1:8080/api/v1/users?id=7", host: "localhost:8080", referrer: "http://localhost:8080/"', {
      event: ERROR, log: { level: 'error' }, process: { pid: 31 }, source: { ip: '172.17.0.1' },
      url: { original: '/api/v1/users?id=7', path: '/api/v1/users', query: 'id=7', domain: 'localhost' },
      http: { version: '1.1', request: { method: 'GET', referrer: 'http://localhost:8080/' } },
    }],
    ['2024/01/01 12:00:00 [error] 5#5: *100 limiting requests, excess: 20.500 by zone "one", client: 203.0.113.9, server: example.com, request: "POST /login HTTP/1.1", host: "example.com"', {
      event: ERROR, log: { level: 'error' }, process: { pid: 5 }, source: { ip: '203.0.113.9' },
      url: { original: '/login', path: '/login', domain: 'example.com' }, http: { version: '1.1', request: { method: 'POST' } },
    }],
    ['2024/01/01 12:00:00 [warn] 1#1: *3 a client request body is buffered to a temporary file /var/cache/nginx/client_temp/0000000001, client: 2001:db8::9, server: _, request: "POST /upload HTTP/2.0", host: "files.example"', {
      event: info(4), log: { level: 'warn' }, process: { pid: 1 }, source: { ip: '2001:db8::9' },
      url: { original: '/upload', path: '/upload', domain: 'files.example' }, http: { version: '2.0', request: { method: 'POST' } },
    }],
    ['2024/01/01 12:00:00 [crit] 77#77: *9 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 203.0.113.50, server: 0.0.0.0:443', {
      event: { ...ERROR, severity: 2 }, log: { level: 'crit' }, process: { pid: 77 }, source: { ip: '203.0.113.50' },
    }],
    ['2024/01/01 12:00:00 [notice] 1#1: signal process started', { event: info(5), log: { level: 'notice' }, process: { pid: 1 } }],
    // The path in the message is the attacker's; the client is the one in the shape nginx writes.
    ['2024/01/01 12:00:00 [error] 7#7: *2 open() "/srv/a, client: 6.6.6.6, b" failed (2: No such file or directory), client: 198.51.100.3, server: x, request: "GET /a,%20client:%206.6.6.6,%20b HTTP/1.1", host: "x"', {
      event: ERROR, log: { level: 'error' }, process: { pid: 7 }, source: { ip: '198.51.100.3' },
      url: { original: '/a,%20client:%206.6.6.6,%20b', path: '/a,%20client:%206.6.6.6,%20b', domain: 'x' }, http: { version: '1.1', request: { method: 'GET' } },
    }],
  ])('reads %j', (line, expected) => {
    expect(webErrorParser.claims(headerless(line))).toBe(true)
    expect(parseWebError(line)).toEqual(expected)
  })

  it('reads Apache lines sent through syslog, which come without their time', () => {
    const message = '[error] [client 203.0.113.7] File does not exist: /var/www/html/wp-login.php'
    const input = { message, appName: 'httpd', line: `<11>Jan  1 00:00:00 web httpd[123]: ${message}`, zeek: null }
    expect(webErrorParser.claims(input)).toBe(true)
    expect(webErrorParser.parse(input)).toEqual({ event: ERROR, log: { level: 'error' }, source: { ip: '203.0.113.7' } })
    expect(webErrorParser.claims({ ...input, appName: 'sshd' })).toBe(false)
    expect(webErrorParser.claims({ ...input, appName: null, zeek: { log: 'http', fields: null } })).toBe(false)
  })

  it('leaves out numbers the schema cannot carry', () => {
    for (const line of ['2024/01/01 12:00:00 [error] 99999999999#0: *5 x', '[Mon Jan 01 00:00:00 2024] [core:error] [pid 9999999999:tid 1] [client 1.2.3.4:99999] x']) {
      const fields = parseWebError(line)!
      expect(fields.process).toBeUndefined()
      expect(fields.source?.port).toBeUndefined()
      expect(avroProblems(fields, line)).toEqual([])
    }
  })

  it('returns null for lines that are not error-log lines', () => {
    for (const line of [
      '', '[', '[Sun Jan 30 04:33:18 2005]', '[Sun Jan 30 04:33:18 2005] [loud] x', '[Sun Jan 30 04:33:18 2005] [constructor] x',
      '[Sun Jan 30 04:33:18 2005] no level', '2024/01/01 12:00:00 [fatal] 1#1: x', '2024/01/01 12:00:00 error 1#1: x',
      `[Sun Jan 30 04:33:18 2005] [error] ${'x'.repeat(40000)}`,
    ]) {
      expect(parseWebError(line), line.slice(0, 80)).toBeNull()
    }
  })

  it('stays fast on hostile input', () => {
    const hostile = [
      `2024/01/01 12:00:00 [error] 1#1: ${', client: 1.2.3.4'.repeat(1500)}`,
      `2024/01/01 12:00:00 [error] 1#1: x, client: 1.2.3.4, server: y${', request: "'.repeat(2000)}`,
      `[Mon Jan 01 00:00:00 2024] [core:error] [pid 1] ${'(13)x: '.repeat(2500)}`,
      `[Mon Jan 01 00:00:00 2024] [error] ${', referer: '.repeat(2500)}`,
      `[${'['.repeat(20000)}`,
    ]
    const started = performance.now()
    for (let i = 0; i < 20; i++) for (const line of hostile) parseWebError(line)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('webErrorTimestamp', () => {
  it('reads Apache and nginx times as UTC', () => {
    expect(webErrorTimestamp('[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok')).toBe(Date.UTC(2005, 11, 4, 4, 47, 44))
    expect(webErrorTimestamp('[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1] x')).toBe(Date.UTC(2000, 9, 11, 14, 32, 52, 123))
    expect(webErrorTimestamp('2024/01/01 12:00:00 [error] 1234#0: *5 x')).toBe(Date.UTC(2024, 0, 1, 12, 0, 0))
  })

  it('returns null without a real date at the start', () => {
    for (const line of ['', '[error] [client 1.2.3.4] x', '[Sun Feb 30 04:47:44 2005] [error] x', '[Sun Foo 04 04:47:44 2005] [error] x', '2024/13/01 12:00:00 [error] 1#1: x', 'x 2024/01/01 12:00:00 [error] 1#1: x']) {
      expect(webErrorTimestamp(line), line).toBeNull()
    }
  })
})

describe('parseWebError properties', () => {
  const real = [
    ...Object.values(SOURCES).flatMap((load) => load().slice(0, 10)),
    '[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] (13)Permission denied: [client 72.15.99.187:49316] AH00035: x, referer: y',
    '2024/01/01 12:00:00 [error] 31#31: *1 connect() failed, client: 172.17.0.1, server: localhost, request: "GET /a?b HTTP/1.1", host: "h:1", referrer: "r"',
  ]

  function wellFormed(fields: WebErrorFields | null, line: string): boolean {
    if (fields === null) return true
    const { event } = fields
    return event.action === 'http_error' && event.category.length > 0 && ['success', 'failure', 'unknown'].includes(event.outcome) &&
      typeof event.severity === 'number' && avroProblems(fields, line).length === 0
  }

  it('never throws on random strings, and returns null or a typed event', () => {
    const pieces = ['[Sun Dec 04 04:47:44 2005] ', '2024/01/01 12:00:00 ', '[error] ', '[core:warn] ', '[pid 1:tid 2] ', '[client ', '1.2.3.4', ':80', '::1', ']', ' ', '(13)x: ', ', client: ', ', server: ', ', request: "', 'GET /a?b HTTP/1.1', '"', ', host: "', ', referer: ', '1#1: ', '*5 ']
    const text = fc.oneof(fc.string({ maxLength: 300, unit: 'grapheme' }), fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((a) => a.join('')))
    fc.assert(fc.property(text, (line) => {
      webErrorParser.claims(headerless(line))
      const ts = webErrorTimestamp(line)
      return (ts === null || Number.isFinite(ts)) && wellFormed(parseWebError(line), line)
    }), { numRuns: 1000 })
  })

  it('never throws on mutated real lines, and returns null or a typed event', () => {
    fc.assert(fc.property(fc.constantFrom(...real), lineEdits(['[', ']', ' ', ':', '"', ', ', '(', ')'], 300), (line, changes) => {
      const mutated = mutate(line, changes)
      webErrorParser.claims(headerless(mutated))
      const ts = webErrorTimestamp(mutated)
      return (ts === null || Number.isFinite(ts)) && wellFormed(parseWebError(mutated), mutated)
    }), { numRuns: 1000 })
  })
})
