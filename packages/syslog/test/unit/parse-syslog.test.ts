import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseSyslog, parseSyslogTimestamp, type SyslogHeader } from '../../src/parse-syslog.ts'

const loghub = (file: string) => fileURLToPath(new URL(`../../../../test/fixtures/loghub/${file.split("/").pop()}`, import.meta.url))
const BOM = '\uFEFF'

function header(line: string): SyslogHeader {
  const result = parseSyslog(line)
  if (!result.ok) throw new Error(`expected ${JSON.stringify(line)} to parse: ${result.code} ${result.reason}`)
  return result.header
}

describe('parseSyslog, RFC 5424', () => {
  // The four examples of RFC 5424 section 6.5.
  it('reads example 1: no STRUCTURED-DATA, MSG with a BOM', () => {
    expect(header(`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`)).toEqual({
      format: 'RFC5424', facility: 4, severity: 2, timestamp: '2003-10-11T22:14:15.003Z',
      hostname: 'mymachine.example.com', appName: 'su', procId: null, msgId: 'ID47',
      structuredData: [], message: "'su root' failed for lonvick on /dev/pts/8",
    })
  })

  it('reads example 2: offset timestamp with microseconds, no MSGID', () => {
    const h = header("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.")
    expect(h).toMatchObject({ facility: 20, severity: 5, hostname: '192.0.2.1', appName: 'myproc', procId: '8710', msgId: null, structuredData: [] })
    expect(h.message).toBe("%% It's time to make the do-nuts.")
    expect(parseSyslogTimestamp(h, 0)).toBe(Date.parse('2003-08-24T12:14:15.000Z'))
  })

  it('reads example 3: one SD-ELEMENT and a message', () => {
    const h = header(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ${BOM}An application event log entry...`)
    expect(h.structuredData).toEqual([{ id: 'exampleSDID@32473', params: { iut: '3', eventSource: 'Application', eventID: '1011' } }])
    expect(h.message).toBe('An application event log entry...')
  })

  it('reads example 4: two SD-ELEMENTs and no MSG', () => {
    const h = header('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]')
    expect(h.structuredData).toEqual([
      { id: 'exampleSDID@32473', params: { iut: '3', eventSource: 'Application', eventID: '1011' } },
      { id: 'examplePriority@32473', params: { class: 'high' } },
    ])
    expect(h.message).toBe('')
  })

  it('reads NILVALUE in every field', () => {
    expect(header('<13>1 - - - - - -')).toEqual({
      format: 'RFC5424', facility: 1, severity: 5, timestamp: null, hostname: null, appName: null,
      procId: null, msgId: null, structuredData: [], message: '',
    })
    expect(header('<13>1 - - - - - - hello world ').message).toBe('hello world ')
  })

  it('unescapes \\" \\\\ and \\] in PARAM-VALUE and keeps any other backslash', () => {
    const h = header(String.raw`<14>1 2026-01-02T03:04:05Z h app 1 m [x@1 q="say \"hi\"" b="a\\b" r="[1\]" n="C:\temp\n" e=""] msg`)
    expect(h.structuredData[0]!.params).toEqual({ q: 'say "hi"', b: String.raw`a\b`, r: '[1]', n: String.raw`C:\temp\n`, e: '' })
  })

  it('keeps UTF-8 in values and MSG, and a PARAM-NAME of __proto__ as a plain key', () => {
    const h = header('<14>1 - h app - - [x@1 __proto__="p" ville="Zürich 東京"] привет')
    const params = h.structuredData[0]!.params
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype)
    expect(Object.keys(params)).toEqual(['__proto__', 'ville'])
    expect(params.ville).toBe('Zürich 東京')
    expect(h.message).toBe('привет')
  })

  it('strips only a BOM that starts MSG', () => {
    expect(header(`<14>1 - - - - - - a${BOM}b`).message).toBe(`a${BOM}b`)
  })

  it('accepts a PRIVAL of 0 and 191 and leading zeros (RFC 5424 PRIVAL = 1*3DIGIT)', () => {
    expect(header('<0>1 - - - - - -')).toMatchObject({ facility: 0, severity: 0 })
    expect(header('<191>1 - - - - - -')).toMatchObject({ facility: 23, severity: 7 })
    expect(header('<013>1 - - - - - -')).toMatchObject({ facility: 1, severity: 5 })
  })

  it.each([
    ['unterminated [', '<14>1 - h a - - [x@1 a="b"', /unterminated SD-ELEMENT \[x@1 opened at column 17/],
    ['unterminated value', '<14>1 - h a - - [x@1 a="b] c', /unescaped "\]" at column 26/],
    ['value without closing quote', '<14>1 - h a - - [x@1 a="b', /unterminated PARAM-VALUE of a opened at column 24/],
    ['unescaped quote', '<14>1 - h a - - [x@1 a="say "hi""] m', /unexpected "h" at column 30.*unescaped '"'/],
    ['unescaped ]', '<14>1 - h a - - [x@1 a="x]"] m', /unescaped "\]" at column 26/],
    ['missing quotes', '<14>1 - h a - - [x@1 a=b] m', /PARAM-VALUE of a at column 24 must be in double quotes/],
    ['missing =', '<14>1 - h a - - [x@1 a] m', /expected "=" after PARAM-NAME a at column 23/],
    ['empty SD-ID', '<14>1 - h a - - [] m', /expected SD-ID at column 18/],
    ['SD-ID with a quote', '<14>1 - h a - - ["x"] m', /expected SD-ID at column 18, found "\\""/],
    ['bad PARAM-NAME char', '<14>1 - h a - - [x@1 é="1"] m', /expected PARAM-NAME at column 22, found "é"/],
    ['two spaces between params', '<14>1 - h a - - [x@1 a="1"  b="2"] m', /expected PARAM-NAME at column 28/],
    ['SD-NAME too long', `<14>1 - h a - - [${'x'.repeat(33)}] m`, /SD-ID at column 18 is longer than 32/],
    ['junk after SD', '<14>1 - h a - - [x@1]junk', /expected a space or the end of the line after STRUCTURED-DATA at column 22/],
    ['junk after NILVALUE', '<14>1 - h a - - -junk', /after STRUCTURED-DATA at column 18/],
    ['not SD at all', '<14>1 - h a - - hello', /expected "\[" or "-" for STRUCTURED-DATA at column 17/],
    ['missing SD', '<14>1 - h a - - ', /missing STRUCTURED-DATA at column 17/],
  ])('rejects broken STRUCTURED-DATA: %s', (_name, line, reason) => {
    const result = parseSyslog(line)
    expect(result).toMatchObject({ ok: false, code: 'BAD_STRUCTURED_DATA' })
    expect(!result.ok && result.reason).toMatch(reason)
  })

  it.each([
    ['version 2', '<14>2 - h a - - - m', /unsupported VERSION 2 at column 5/],
    ['bad timestamp', '<14>1 2026-13-01T00:00:00Z h a - - - m', /invalid TIMESTAMP "2026-13-01T00:00:00Z" at column 7/],
    ['Feb 30', '<14>1 2026-02-30T00:00:00Z h a - - - m', /invalid TIMESTAMP/],
    ['lowercase t', '<14>1 2026-01-01t00:00:00Z h a - - - m', /invalid TIMESTAMP/],
    ['BSD timestamp', '<14>1 Dec 10 06:55:46 h a - - - m', /invalid TIMESTAMP "Dec"/],
    ['no zone', '<14>1 2026-01-01T00:00:00 h a - - - m', /invalid TIMESTAMP/],
    ['two spaces', '<14>1 -  h a - - - m', /empty HOSTNAME at column 9/],
    ['line ends early', '<14>1 - h a', /line ends after PROCID|line ends after APP-NAME/],
    ['nothing after version', '<14>1 ', /line ends before TIMESTAMP at column 7/],
    ['non-ASCII hostname', '<14>1 - hôte a - - - m', /HOSTNAME has "ô" at column 10/],
    ['tab in APP-NAME', '<14>1 - h a\tb - - - m', /APP-NAME has "\\t" at column 12/],
    ['APP-NAME too long', `<14>1 - h ${'a'.repeat(49)} - - - m`, /APP-NAME at column 11 is 49 characters, more than 48/],
    ['MSGID too long', `<14>1 - h a - ${'m'.repeat(33)} - m`, /MSGID at column 15 is 33 characters/],
  ])('rejects a bad header: %s', (_name, line, reason) => {
    const result = parseSyslog(line)
    expect(result).toMatchObject({ ok: false, code: 'BAD_HEADER' })
    expect(!result.ok && result.reason).toMatch(reason)
  })
})

describe('parseSyslog, PRI', () => {
  it.each(['', 'hello', ' <13>1 - - - - - -', '<>1 - - - - - -', '<a>x', `${BOM}<13>x`])('NO_PRI for %j', (line) => {
    expect(parseSyslog(line)).toMatchObject({ ok: false, code: 'NO_PRI' })
  })

  it.each([
    ['<192>x', /PRI 192 is out of range 0..191/],
    ['<999>x', /PRI 999 is out of range/],
    ['<1234>x', /more than 3 digits/],
    ['<12 x', /expected ">" to close PRI at column 4, found " "/],
    ['<12', /expected ">" to close PRI at column 4, found the end of the line/],
    ['<-1>x', undefined],
  ])('BAD_PRI (or NO_PRI) for %j', (line, reason) => {
    const result = parseSyslog(line)
    if (reason === undefined) return expect(result).toMatchObject({ ok: false, code: 'NO_PRI' })
    expect(result).toMatchObject({ ok: false, code: 'BAD_PRI' })
    expect(!result.ok && result.reason).toMatch(reason)
  })
})

describe('parseSyslog, RFC 3164', () => {
  it('reads real OpenSSH lines', () => {
    expect(header('<38>Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!')).toEqual({
      format: 'RFC3164', facility: 4, severity: 6, timestamp: 'Dec 10 06:55:46', hostname: 'LabSZ', appName: 'sshd', procId: '24200',
      msgId: null, structuredData: [],
      message: 'reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!',
    })
    expect(header('<38>Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2').message)
      .toBe('Accepted password for fztu from 119.137.62.142 port 49116 ssh2')
  })

  it('reads real Linux lines: space-padded day, TAG with parentheses, TAG without PID, trailing space kept', () => {
    expect(header('<38>Jul  1 00:21:28 combo sshd(pam_unix)[19630]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=60.30.224.116  user=root'))
      .toMatchObject({ timestamp: 'Jul  1 00:21:28', hostname: 'combo', appName: 'sshd(pam_unix)', procId: '19630' })
    expect(header('<38>Jun 15 04:06:20 combo logrotate: ALERT exited abnormally with [1]'))
      .toMatchObject({ appName: 'logrotate', procId: null, message: 'ALERT exited abnormally with [1]' })
    expect(header('<38>Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown ').message).toBe('check pass; user unknown ')
  })

  it('reads a line without a TAG as all message', () => {
    expect(header('<38>Jun 19 04:09:11 combo syslogd 1.4.1: restart.')).toMatchObject({ hostname: 'combo', appName: null, procId: null, message: 'syslogd 1.4.1: restart.' })
    expect(header('<38>Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2')).toMatchObject({ hostname: 'combo', appName: null, message: '-- root[2421]: ROOT LOGIN ON tty2' })
  })

  it('reads a line without a hostname', () => {
    expect(header('<38>Dec 10 06:55:46 sshd[24200]: Invalid user webmaster from 173.234.31.186'))
      .toMatchObject({ hostname: null, appName: 'sshd', procId: '24200', message: 'Invalid user webmaster from 173.234.31.186' })
    expect(header('<38>Dec 10 06:55:46 kernel: [ 1.234] eth0 up')).toMatchObject({ hostname: null, appName: 'kernel', message: '[ 1.234] eth0 up' })
  })

  it('reads an unpadded single-digit day and a zero-padded one', () => {
    expect(header('<38>Jan 2 03:04:05 host app: x')).toMatchObject({ timestamp: 'Jan 2 03:04:05', hostname: 'host', appName: 'app' })
    expect(header('<38>Jan 02 03:04:05 host app: x')).toMatchObject({ timestamp: 'Jan 02 03:04:05', hostname: 'host' })
  })

  it('reads an RFC 3339 timestamp as rsyslog sends it', () => {
    const h = header('<86>2026-03-01T10:20:30.123456+01:00 web-1 sshd[77]: Connection closed by 10.0.0.9 port 4242 [preauth]')
    expect(h).toMatchObject({ format: 'RFC3164', timestamp: '2026-03-01T10:20:30.123456+01:00', hostname: 'web-1', appName: 'sshd', procId: '77' })
    expect(parseSyslogTimestamp(h, 0)).toBe(Date.parse('2026-03-01T09:20:30.123Z'))
  })

  it('reads a Cisco-style timestamp with year and milliseconds', () => {
    const h = header('<189>Mar 1 2026 18:46:11.123 router1 ios: %SYS-5-CONFIG_I: Configured')
    expect(h).toMatchObject({ timestamp: 'Mar 1 2026 18:46:11.123', hostname: 'router1', appName: 'ios' })
    expect(parseSyslogTimestamp(h, 0)).toBe(Date.parse('2026-03-01T18:46:11.123Z'))
  })

  it('reads a line with no timestamp: TAG and message only', () => {
    expect(header('<13>sshd[5]: hello')).toMatchObject({ timestamp: null, hostname: null, appName: 'sshd', procId: '5', message: 'hello' })
    expect(header('<13>just some text')).toMatchObject({ timestamp: null, hostname: null, appName: null, message: 'just some text' })
    expect(header('<13>')).toMatchObject({ timestamp: null, message: '' })
  })

  it('reads an IPv6 address at the start of a header-less line as message text, not as a TAG', () => {
    const access = '2001:db8::1 - - [10/Dec/2025:06:55:46 +0000] "GET /admin HTTP/1.1" 404 153 "-" "curl/8.0"'
    expect(header(`<13>${access}`)).toMatchObject({ appName: null, message: access })
    expect(header('<13>2001: a tag that is a number')).toMatchObject({ appName: '2001', message: 'a tag that is a number' })
    expect(header('<13>cron:job started')).toMatchObject({ appName: 'cron', message: 'job started' })
  })

  it('accepts TAG[PID] followed by a space, and no MSG at all', () => {
    expect(header('<38>Dec 10 06:55:46 host app[12] message')).toMatchObject({ appName: 'app', procId: '12', message: 'message' })
    expect(header('<38>Dec 10 06:55:46 host app[12]:')).toMatchObject({ appName: 'app', procId: '12', message: '' })
    expect(header('<38>Dec 10 06:55:46 host')).toMatchObject({ hostname: 'host', appName: null, message: '' })
  })

  it('does not take a bracket that is not a PID for one', () => {
    expect(header('<38>Dec 10 06:55:46 host app[1 2]: m')).toMatchObject({ appName: null, message: 'app[1 2]: m' })
    expect(header('<38>Dec 10 06:55:46 host app[]: m')).toMatchObject({ appName: null, message: 'app[]: m' })
  })

  it.each([
    ['OpenSSH/OpenSSH_2k.log', 'LabSZ'],
    ['Linux/Linux_2k.log', 'combo'],
  ])('reads every line of loghub %s', (file, host) => {
    const lines = readFileSync(loghub(file), 'utf8').split(/\r?\n/).filter((l) => l.length > 0)
    expect(lines).toHaveLength(2000)
    for (const line of lines) {
      const h = header(`<38>${line}`)
      expect(h.hostname).toBe(host)
      expect(h.timestamp).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$/)
      expect(parseSyslogTimestamp(h, Date.UTC(2026, 11, 31))).not.toBeNull()
    }
  })
})

describe('parseSyslogTimestamp', () => {
  const bsd = (timestamp: string | null) => ({ ...header('<13>1 - - - - - -'), format: 'RFC3164' as const, timestamp })
  const at = (iso: string) => Date.parse(iso)

  it('puts a year-less date in the year that keeps it from being far in the future', () => {
    expect(parseSyslogTimestamp(bsd('Dec 10 06:55:46'), at('2026-11-20T00:00:00Z'))).toBe(at('2025-12-10T06:55:46Z'))
    expect(parseSyslogTimestamp(bsd('Jan  1 00:00:00'), at('2026-12-31T00:00:00Z'))).toBe(at('2027-01-01T00:00:00Z'))
    expect(parseSyslogTimestamp(bsd('Jan  1 13:59:59'), at('2026-12-31T23:00:00Z'))).toBe(at('2027-01-01T13:59:59Z')) // a sender at UTC+14
    // More than a day ahead: last year's line replayed, not a clock that wrong. The same line on
    // Dec 9 is a zone's hours ahead (this year), on Dec 5 five days ahead (last year).
    expect(parseSyslogTimestamp(bsd('Dec 10 06:55:46'), at('2026-12-09T12:00:00Z'))).toBe(at('2026-12-10T06:55:46Z'))
    expect(parseSyslogTimestamp(bsd('Dec 10 06:55:46'), at('2026-12-05T12:00:00Z'))).toBe(at('2025-12-10T06:55:46Z'))
    expect(parseSyslogTimestamp(bsd('Jan  2 00:00:01'), at('2026-12-31T00:00:00Z'))).toBe(at('2026-01-02T00:00:01Z'))
    expect(parseSyslogTimestamp(bsd('Jun 15 12:00:00'), at('2026-06-15T11:00:00Z'))).toBe(at('2026-06-15T12:00:00Z'))
    expect(parseSyslogTimestamp(bsd('Dec 31 23:59:59'), at('2027-01-01T00:00:10Z'))).toBe(at('2026-12-31T23:59:59Z'))
    expect(parseSyslogTimestamp(bsd('Mar  1 00:00:00'), at('2026-02-10T00:00:00Z'))).toBe(at('2025-03-01T00:00:00Z'))
  })

  it('finds a leap year for Feb 29', () => {
    expect(parseSyslogTimestamp(bsd('Feb 29 12:00:00'), at('2026-03-05T00:00:00Z'))).toBe(at('2024-02-29T12:00:00Z'))
    expect(parseSyslogTimestamp(bsd('Feb 29 12:00:00'), at('2028-03-05T00:00:00Z'))).toBe(at('2028-02-29T12:00:00Z'))
  })

  it('reads RFC 3339 exactly, whatever receivedAt says', () => {
    expect(parseSyslogTimestamp(bsd('2003-10-11T22:14:15.003Z'), 0)).toBe(at('2003-10-11T22:14:15.003Z'))
    expect(parseSyslogTimestamp(bsd('2026-01-01T00:30:00+05:30'), 0)).toBe(at('2025-12-31T19:00:00Z'))
    expect(parseSyslogTimestamp(bsd('2026-01-01T00:00:00.123456789Z'), 0)).toBe(at('2026-01-01T00:00:00.123Z'))
    expect(parseSyslogTimestamp(bsd('0042-01-01T00:00:00Z'), 0)).toBe(new Date('0042-01-01T00:00:00Z').getTime())
  })

  it('is null for no timestamp or an impossible one', () => {
    for (const ts of [null, 'Dec 32 00:00:00', 'Foo 10 00:00:00', 'Dec 10 24:00:00', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00+24:00', 'yesterday']) {
      expect(parseSyslogTimestamp(bsd(ts), at('2026-01-01T00:00:00Z'))).toBeNull()
    }
    expect(parseSyslogTimestamp(bsd('Dec 10 06:55:46'), Number.NaN)).toBeNull()
  })
})
