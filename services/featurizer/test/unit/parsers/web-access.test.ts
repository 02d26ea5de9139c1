import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { avroProblems, lineEdits, mutate } from './parser-fuzz.ts'
import type { ParserInput } from '../../../src/parsers/family-parser.ts'
import { parseWebAccess, webAccessParser, webAccessTimestamp, type WebAccessFields } from '../../../src/parsers/web-access.ts'

const fixture = (path: string) => fileURLToPath(new URL(`../../../../../test/fixtures/${path}`, import.meta.url))
const linesOf = (path: string) => readFileSync(fixture(path), 'utf8').split(/\r\n|\r|\n/).filter((l) => l.length > 0)
// A quirk of that dataset: most lines are wrapped in one extra pair of quotes (see its README).
const unwrap = (line: string) => (line.startsWith('"') && line.endsWith('"') ? line.slice(1, -1) : line)
const headerless = (line: string): ParserInput => ({ message: line, appName: null, line, zeek: null })

const SOURCES = {
  'sotm34 access_log.{6..2}': () => ['6', '5', '4', '3', '2'].flatMap((n) => linesOf(`sotm34-honeynet/http/access_log.${n}`)),
  'netsparker sample': () => linesOf('apache-scanner-logs/netsparker-sample.txt').map(unwrap),
  'w3af sample': () => linesOf('apache-scanner-logs/w3af-sample.txt').map(unwrap),
}

const ACCESS = { category: ['web'], type: ['access'], action: 'http_request', dataset: 'web.access' }
const ok = { ...ACCESS, outcome: 'success' as const }
const failed = { ...ACCESS, outcome: 'failure' as const }



describe('parseWebAccess on real access logs', () => {
  it.each(Object.entries(SOURCES))('claims and parses every line of %s', (name, load) => {
    const lines = load()
    const claimed = lines.map(headerless).filter((i) => webAccessParser.claims(i))
    const parsed = claimed.filter((i) => webAccessParser.parse(i) !== null)
    const statuses = new Map<string, number>()
    for (const i of parsed) {
      const method = webAccessParser.parse(i)?.http?.request?.method ?? '(none)'
      statuses.set(method, (statuses.get(method) ?? 0) + 1)
    }
    console.log(`web access on ${name}: ${lines.length} lines, ${claimed.length} claimed, ${parsed.length} parsed (${((100 * parsed.length) / lines.length).toFixed(1)}%); methods ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(claimed).toHaveLength(lines.length)
    expect(claimed.filter((i) => webAccessParser.parse(i) === null).map((i) => i.line)).toEqual([])
    expect(claimed.flatMap((i) => avroProblems(webAccessParser.parse(i)!, i.line))).toEqual([])
  })

  it('claims no error-log, syslog or firewall line', () => {
    const others = [
      ...['error_log', 'ssl_error_log'].flatMap((f) => ['6', '2'].flatMap((n) => linesOf(`sotm34-honeynet/http/${f}.${n}`))),
      ...linesOf('loghub/Apache_2k.log'), ...linesOf('loghub/Linux_2k.log'), ...linesOf('sotm34-honeynet/syslog/secure.6'),
    ]
    expect(others.filter((l) => webAccessParser.claims(headerless(l)))).toEqual([])
  })

  it.each<[string, WebAccessFields]>([
    ['218.22.22.40 - - [30/Jan/2005:04:34:59 -0500] "GET / HTTP/1.1" 403 2898 "-" "Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"', {
      event: failed, source: { ip: '218.22.22.40' }, url: { original: '/', path: '/' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 403, bytes: 2898 } },
      user_agent: { original: 'Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)' },
    }],
    ['211.59.0.204 - - [30/Jan/2005:05:09:35 -0500] "GET /scripts/root.exe?/c+dir HTTP/1.0" 404 1041 "-" "-"', {
      event: failed, source: { ip: '211.59.0.204' }, url: { original: '/scripts/root.exe?/c+dir', path: '/scripts/root.exe', query: '/c+dir' },
      http: { version: '1.0', request: { method: 'GET' }, response: { status_code: 404, bytes: 1041 } },
    }],
    // Proxy abuse: an absolute URI names the site asked for.
    ['219.245.156.12 - - [03/Mar/2005:03:07:28 -0500] "GET http://oursns.net/get.asp?get=7144 HTTP/1.1" 404 1048 "-" "Internet Explorer 4.01"', {
      event: failed, source: { ip: '219.245.156.12' }, url: { original: 'http://oursns.net/get.asp?get=7144', domain: 'oursns.net', path: '/get.asp', query: 'get=7144' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 404, bytes: 1048 } }, user_agent: { original: 'Internet Explorer 4.01' },
    }],
    ['193.109.122.47 - - [27/Feb/2005:18:27:56 -0500] "CONNECT 193.109.122.67:6668 HTTP/1.0" 405 982 "-" "pxyscand/2.0"', {
      event: failed, source: { ip: '193.109.122.47' }, url: { original: '193.109.122.67:6668', domain: '193.109.122.67' },
      http: { version: '1.0', request: { method: 'CONNECT' }, response: { status_code: 405, bytes: 982 } }, user_agent: { original: 'pxyscand/2.0' },
    }],
    // Apache 2.0.40 did not escape the request line: this one is two raw control bytes.
    ['211.144.162.173 - - [05/Feb/2005:08:16:59 -0500] "\u0004\u0001" 501 1002 "-" "-"', {
      event: failed, source: { ip: '211.144.162.173' }, http: { response: { status_code: 501, bytes: 1002 } },
    }],
    ['209.201.25.170 - - [27/Feb/2005:08:39:21 -0500] "GET /scripts/..%255c%255c../winnt/system32/cmd.exe?/c+dir" 404 1061 "-" "-"', {
      event: failed, source: { ip: '209.201.25.170' },
      url: { original: '/scripts/..%255c%255c../winnt/system32/cmd.exe?/c+dir', path: '/scripts/..%255c%255c../winnt/system32/cmd.exe', query: '/c+dir' },
      http: { request: { method: 'GET' }, response: { status_code: 404, bytes: 1061 } },
    }],
    ['4.249.111.162 - - [16/Feb/2005:04:40:02 -0500] "OPTIONS / HTTP/1.1" 200 0 "-" "Microsoft-WebDAV-MiniRedir/5.1.2600"', {
      event: ok, source: { ip: '4.249.111.162' }, url: { original: '/', path: '/' },
      http: { version: '1.1', request: { method: 'OPTIONS' }, response: { status_code: 200, bytes: 0 } }, user_agent: { original: 'Microsoft-WebDAV-MiniRedir/5.1.2600' },
    }],
    // Netsparker's Shellshock probe in the Referer: Apache 2.4 escaped its quotes.
    ['192.168.4.164 - - [22/Dec/2016:15:19:14 +0300] "GET /DVWA/ HTTP/1.1" 200 1964 "() { :;}; echo \\"NS:\\" $(/bin/sh -c \\"expr 268409241 - 2\\")" "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.16 Safari/537.36"', {
      event: ok, source: { ip: '192.168.4.164' }, url: { original: '/DVWA/', path: '/DVWA/' },
      http: { version: '1.1', request: { method: 'GET', referrer: '() { :;}; echo "NS:" $(/bin/sh -c "expr 268409241 - 2")' }, response: { status_code: 200, bytes: 1964 } },
      user_agent: { original: 'Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.16 Safari/537.36' },
    }],
    ['192.168.4.164 - - [22/Dec/2016:15:19:07 +0300] "NETSPARKER /DVWA/ HTTP/1.1" 200 1964 "-" "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.16 Safari/537.36"', {
      event: ok, source: { ip: '192.168.4.164' }, url: { original: '/DVWA/', path: '/DVWA/' },
      http: { version: '1.1', request: { method: 'NETSPARKER' }, response: { status_code: 200, bytes: 1964 } },
      user_agent: { original: 'Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.16 Safari/537.36' },
    }],
    ['192.168.4.163 - admin [22/Dec/2016:23:41:48 +0300] "POST /index.php HTTP/1.1" 500 1924 "http://192.168.4.161/" "w3af.org"', {
      event: failed, source: { ip: '192.168.4.163' }, user: { name: 'admin' }, url: { original: '/index.php', path: '/index.php' },
      http: { version: '1.1', request: { method: 'POST', referrer: 'http://192.168.4.161/' }, response: { status_code: 500, bytes: 1924 } }, user_agent: { original: 'w3af.org' },
    }],
  ])('reads %j', (line, expected) => {
    const all = Object.values(SOURCES).flatMap((load) => load())
    expect(all).toContain(line)
    expect(parseWebAccess(line)).toEqual(expected)
  })
})

describe('parseWebAccess on nginx and Apache formats', () => {
  const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'
  it.each<[string, string, WebAccessFields]>([
    ['nginx combined', `203.0.113.5 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html?x=1&y=2 HTTP/1.1" 200 612 "https://example.com/" "${UA}"`, {
      event: ok, source: { ip: '203.0.113.5' }, url: { original: '/index.html?x=1&y=2', path: '/index.html', query: 'x=1&y=2' },
      http: { version: '1.1', request: { method: 'GET', referrer: 'https://example.com/' }, response: { status_code: 200, bytes: 612 } }, user_agent: { original: UA },
    }],
    ['nginx with $request_time', '203.0.113.5 - alice [10/Oct/2024:13:55:36 +0000] "POST /login HTTP/2.0" 401 0 "-" "curl/8.5.0" 0.012', {
      event: { ...failed, duration: 12_000_000 }, source: { ip: '203.0.113.5' }, user: { name: 'alice' }, url: { original: '/login', path: '/login' },
      http: { version: '2.0', request: { method: 'POST' }, response: { status_code: 401, bytes: 0 } }, user_agent: { original: 'curl/8.5.0' },
    }],
    ['nginx with X-Forwarded-For, request and upstream times', '10.0.0.7 - - [10/Oct/2024:13:55:36 +0000] "GET /api HTTP/1.1" 502 157 "-" "k6/0.49" "198.51.100.1, 10.0.0.2" 0.004 0.003', {
      event: { ...failed, duration: 4_000_000 }, source: { ip: '10.0.0.7' }, url: { original: '/api', path: '/api' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 502, bytes: 157 } }, user_agent: { original: 'k6/0.49' },
    }],
    ['nginx with named timings', '10.0.0.7 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-" rt=0.250 uct="0.000" uht="0.249" urt="0.250"', {
      event: { ...ok, duration: 250_000_000 }, source: { ip: '10.0.0.7' }, url: { original: '/', path: '/' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 200, bytes: 5 } },
    }],
    ['nginx with $host first', 'shop.example.com 203.0.113.5 - - [10/Oct/2024:13:55:36 +0000] "GET /cart HTTP/1.1" 200 10 "-" "-"', {
      event: ok, source: { ip: '203.0.113.5' }, destination: { domain: 'shop.example.com' }, url: { original: '/cart', path: '/cart', domain: 'shop.example.com' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 200, bytes: 10 } },
    }],
    ['nginx, an empty request', '198.51.100.23 - - [10/Oct/2024:13:55:36 +0000] "-" 400 0 "-" "-"', {
      event: failed, source: { ip: '198.51.100.23' }, http: { response: { status_code: 400, bytes: 0 } },
    }],
    ['nginx, a TLS handshake on a plain port', '198.51.100.23 - - [10/Oct/2024:13:55:36 +0000] "\\x16\\x03\\x01\\x00\\xF4\\x01\\x00\\x00\\xF0\\x03\\x03" 400 157 "-" "-"', {
      event: failed, source: { ip: '198.51.100.23' }, http: { response: { status_code: 400, bytes: 157 } },
    }],
    ['nginx, escaped quotes in the user agent', '198.51.100.23 - - [10/Oct/2024:13:55:36 +0000] "GET /?q=%22 HTTP/1.1" 200 3 "-" "sqlmap \\"probe\\" \\\\ x"', {
      event: ok, source: { ip: '198.51.100.23' }, url: { original: '/?q=%22', path: '/', query: 'q=%22' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 200, bytes: 3 } }, user_agent: { original: 'sqlmap "probe" \\ x' },
    }],
    ['Apache vhost_combined, IPv6 client, %D', `www.example.org:443 2001:db8::42 - - [10/Oct/2024:13:55:36 +0200] "GET /a/b?c=d HTTP/1.1" 404 196 "-" "${UA}" 1532`, {
      event: { ...failed, duration: 1_532_000 }, source: { ip: '2001:db8::42' }, destination: { domain: 'www.example.org', port: 443 },
      url: { original: '/a/b?c=d', path: '/a/b', query: 'c=d', domain: 'www.example.org' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 404, bytes: 196 } }, user_agent: { original: UA },
    }],
    ['Apache common with a vhost and a user', 'intranet bob.example.net - carol [10/Oct/2024:13:55:36 +0200] "PROPFIND /dav/ HTTP/1.1" 207 1200', {
      event: ok, source: { domain: 'bob.example.net' }, user: { name: 'carol' }, destination: { domain: 'intranet' },
      url: { original: '/dav/', path: '/dav/', domain: 'intranet' }, http: { version: '1.1', request: { method: 'PROPFIND' }, response: { status_code: 207, bytes: 1200 } },
    }],
    ['Apache common, no bytes', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /logo.png HTTP/1.1" 304 -', {
      event: ok, source: { ip: '10.0.0.1' }, url: { original: '/logo.png', path: '/logo.png' }, http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 304, bytes: 0 } },
    }],
    ['Apache combinedio (%I %O)', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "POST /upload HTTP/1.1" 201 20 "-" "curl/8" 5120 310', {
      event: ok, source: { ip: '10.0.0.1' }, url: { original: '/upload', path: '/upload' },
      http: { version: '1.1', request: { method: 'POST', bytes: 5120 }, response: { status_code: 201, bytes: 20 } }, user_agent: { original: 'curl/8' },
    }],
    ['old Apache, a raw quote in the request line', '10.0.0.1 - - [01/Jan/2005:00:00:00 -0500] "GET /a"b.php HTTP/1.0" 404 1 "-" "-"', {
      event: failed, source: { ip: '10.0.0.1' }, url: { original: '/a"b.php', path: '/a"b.php' }, http: { version: '1.0', request: { method: 'GET' }, response: { status_code: 404, bytes: 1 } },
    }],
    ['an absolute URI with credentials and a port', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET http://u:p@proxy.example:8080 HTTP/1.1" 403 0 "-" "-"', {
      event: failed, source: { ip: '10.0.0.1' }, url: { original: 'http://u:p@proxy.example:8080', domain: 'proxy.example' },
      http: { version: '1.1', request: { method: 'GET' }, response: { status_code: 403, bytes: 0 } },
    }],
    ['a status that was never written', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" - 0', {
      event: { ...ACCESS, outcome: 'unknown' }, source: { ip: '10.0.0.1' }, url: { original: '/', path: '/' }, http: { version: '1.1', request: { method: 'GET' }, response: { bytes: 0 } },
    }],
  ])('reads %s', (_name, line, expected) => {
    expect(webAccessParser.claims(headerless(line))).toBe(true)
    expect(parseWebAccess(line)).toEqual(expected)
  })

  it('claims access lines under any syslog tag when they parse, and lines that only look alike from nginx or Apache alone', () => {
    const message = '203.0.113.5 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 612 "-" "-"'
    for (const appName of ['nginx', 'apache2', 'httpd', 'nginx_access', 'haproxy']) expect(webAccessParser.claims({ message, appName, line: message, zeek: null })).toBe(true)
    const lookalike = 'alice moved [file] "x" to the bin'
    expect(webAccessParser.claims({ message: lookalike, appName: 'nginx', line: lookalike, zeek: null })).toBe(true)
    expect(webAccessParser.claims({ message: lookalike, appName: 'mover', line: lookalike, zeek: null })).toBe(false)
    expect(webAccessParser.claims({ message, appName: null, line: message, zeek: { log: 'http', fields: null } })).toBe(false)
    expect(webAccessParser.claims(headerless('kernel: [ 12.3] "x"'))).toBe(false)
    expect(webAccessParser.claims(headerless('2024/01/01 12:00:00 [error] 1#0: *5 open() "/x [y] "z" failed'))).toBe(false)
  })

  it('leaves out numbers the schema cannot carry', () => {
    for (const tail of ['999999999999999', '999999999.999999999', 'rt=999999999.5']) {
      const line = `10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 999999999999999 "-" "-" ${tail}`
      const fields = parseWebAccess(line)!
      expect(fields.event.duration).toBeUndefined()
      expect(fields.http?.response?.bytes).toBe(999999999999999)
      expect(avroProblems(fields, line)).toEqual([])
    }
  })

  it('returns null for lines that are not access-log lines', () => {
    for (const line of [
      '', 'x', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000]', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1"',
      '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" OK 12', '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 12"x',
      '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1 200 12', '10.0.0.1 [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1',
      `10.0.0.1 - - [x] "GET /${'a'.repeat(40000)} HTTP/1.1" 200 1`,
    ]) {
      expect(parseWebAccess(line), line.slice(0, 80)).toBeNull()
    }
  })

  it('stays fast on hostile input', () => {
    const hostile = [
      `1.2.3.4 - - [x] "${'\\"'.repeat(10000)}`,
      `1.2.3.4 - - [x] "${'" '.repeat(10000)}`,
      `1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1 ${'"a" '.repeat(5000)}`,
      `1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1 "-" "-" ${'1 '.repeat(10000)}`,
      `${'a '.repeat(10000)}[x] "`,
      `1.2.3.4 - - [${' ['.repeat(10000)}`,
    ]
    const started = performance.now()
    for (let i = 0; i < 20; i++) for (const line of hostile) parseWebAccess(line)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('webAccessTimestamp', () => {
  it('reads the time with its zone', () => {
    expect(webAccessTimestamp('218.22.22.40 - - [30/Jan/2005:04:34:59 -0500] "GET / HTTP/1.1" 403 2898')).toBe(Date.UTC(2005, 0, 30, 9, 34, 59))
    expect(webAccessTimestamp('192.168.4.164 - - [22/Dec/2016:15:19:05 +0300] "GET /DVWA/ HTTP/1.1" 200 2020')).toBe(Date.UTC(2016, 11, 22, 12, 19, 5))
    expect(webAccessTimestamp('h 10.0.0.1 - - [01/Jan/2024:00:00:00.250 +0000] "GET / HTTP/1.1" 200 1')).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 250))
  })

  it('returns null without a real date', () => {
    for (const line of ['', 'x [', '10.0.0.1 - - [31/Feb/2024:00:00:00 +0000] "x"', '10.0.0.1 - - [01/Foo/2024:00:00:00 +0000] "x"', '10.0.0.1 - - [01/Jan/2024:25:00:00 +0000] "x"']) {
      expect(webAccessTimestamp(line), line).toBeNull()
    }
  })
})

describe('parseWebAccess properties', () => {
  const real = Object.values(SOURCES).flatMap((load) => load().slice(0, 15))

  function wellFormed(fields: WebAccessFields | null, line: string): boolean {
    if (fields === null) return true
    const { event } = fields
    return event.action === 'http_request' && event.category.length > 0 && ['success', 'failure', 'unknown'].includes(event.outcome) && avroProblems(fields, line).length === 0
  }

  it('never throws on random strings, and returns null or a typed event', () => {
    const pieces = ['1.2.3.4', '2001:db8::1', 'host:80', ' ', ' - ', '-', ' [', ']', '01/Jan/2024:00:00:00 +0000', '"', '\\"', '\\\\', 'GET ', '/a?b=c', ' HTTP/1.1', '200', '404', '0.012', '1532', 'rt=', 'http://x:1/', 'CONNECT ']
    const text = fc.oneof(fc.string({ maxLength: 300, unit: 'grapheme' }), fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((a) => a.join('')))
    fc.assert(fc.property(text, (line) => {
      webAccessParser.claims(headerless(line))
      const ts = webAccessTimestamp(line)
      return (ts === null || Number.isFinite(ts)) && wellFormed(parseWebAccess(line), line)
    }), { numRuns: 1000 })
  })

  it('never throws on mutated real lines, and returns null or a typed event', () => {
    fc.assert(fc.property(fc.constantFrom(...real), lineEdits(['"', '\\', '\\"', ' ', '[', ']', ' - ', '?', '://', ':', '.'], 400), (line, changes) => {
      const mutated = mutate(line, changes)
      webAccessParser.claims(headerless(mutated))
      const ts = webAccessTimestamp(mutated)
      return (ts === null || Number.isFinite(ts)) && wellFormed(parseWebAccess(mutated), mutated)
    }), { numRuns: 1000 })
  })
})
