import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { avroTypeOf, CodecError, createCodec, topics, type Codec, type RawLog, type SyslogHeader } from '@vigil/schemas'
import { createRawLogDecoder, type RawLogDecoder } from '../../src/decode-raw-log.ts'

const NOW = Date.UTC(2025, 11, 20, 12, 0, 0)
const TOPIC = 'p-raw-logs'
const rawLogType = avroTypeOf(topics.rawLogs)

// Real messages, as the shippers wrote them to Kafka (captured from rsyslog 8.2302 and syslog-ng
// 3.38 on Debian 12 relaying `<38>Dec 10 06:55:46 LabSZ sshd[24200]: ...` from the OpenSSH sample).
const SSHD_MESSAGE = 'Invalid user webmaster from 173.234.31.186'
const SSHD_SYSLOG: SyslogHeader = {
  format: 'RFC3164', facility: 4, severity: 6, timestamp: 'Dec 10 06:55:46', hostname: 'LabSZ',
  appName: 'sshd', procId: '24200', msgId: null, structuredData: [], message: SSHD_MESSAGE,
}

let codec: Codec
let decode: RawLogDecoder
beforeAll(async () => {
  codec = await createCodec({ kafkaName: (t) => `p-${t.name}`, topics: [] })
  decode = createRawLogDecoder(codec, TOPIC, { now: () => NOW })
})

const bytesOf = (text: string) => Buffer.from(text, 'utf8')
const decodeText = (text: string, headers: Record<string, string> = {}) => decode(bytesOf(text), headers)

async function deadLetterCode(bytes: Buffer | null): Promise<string> {
  const err = await decode(bytes, {}).then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(CodecError)
  return (err as CodecError).code
}

describe('our own records', () => {
  it('decodes a JSON raw-logs record unchanged, defaults filled as the codec does', async () => {
    const record: RawLog = {
      line: '<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
      receivedAt: 1_765_349_746_000, transport: 'syslog-tcp', peer: '10.0.0.5:51234', syslog: SSHD_SYSLOG,
    }
    expect(await decodeText(JSON.stringify(record))).toEqual({ ...record, zeek: null })
    expect(await decodeText(JSON.stringify(record))).toEqual(await codec.decode(topics.rawLogs, bytesOf(JSON.stringify(record))))
  })

  it('keeps a Zeek record written by the ingestor as it is', async () => {
    const record: RawLog = {
      line: '1765349746.1\tCx1\t10.0.0.5\t51234\t10.0.0.1\t22\ttcp', receivedAt: NOW - 5, transport: 'zeek-tcp', peer: null, syslog: null,
      zeek: { log: 'conn', fields: ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto'], types: null },
    }
    expect(await decodeText(JSON.stringify(record))).toEqual(record)
  })

  it('still dead-letters a record of ours that does not fit the schema', async () => {
    expect(await deadLetterCode(bytesOf('{"line": 42}'))).toBe('SCHEMA_MISMATCH')
    expect(await deadLetterCode(bytesOf('{"line": "x", "receivedAt": "yesterday", "transport": "kafka"}'))).toBe('SCHEMA_MISMATCH')
  })

  it('hands the Confluent wire format to the codec', async () => {
    // No registry in unit tests: the codec's own verdict comes back.
    expect(await deadLetterCode(Buffer.from([0, 0, 0, 0, 1, 2, 3]))).toBe('REGISTRY_NOT_CONFIGURED')
  })
})

describe('plain lines (no PRI): rsyslog and syslog-ng default templates, kcat', () => {
  it.each([
    ['rsyslog omkafka default (RSYSLOG_FileFormat)', `2026-12-10T06:55:46+00:00 LabSZ sshd[24200]: ${SSHD_MESSAGE}\n`, '2026-12-10T06:55:46+00:00'],
    ['rsyslog RSYSLOG_TraditionalFileFormat', `Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}\n`, 'Dec 10 06:55:46'],
    ['syslog-ng kafka-c default ($ISODATE $HOST $MSGHDR$MSG)', `2025-12-10T06:55:46+00:00 LabSZ sshd[24200]: ${SSHD_MESSAGE}`, '2025-12-10T06:55:46+00:00'],
    ['kcat -l on a CRLF file', `Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}\r`, 'Dec 10 06:55:46'],
  ])('%s', async (_, text, timestamp) => {
    const record = await decodeText(text)
    expect(record).toEqual({
      line: text.replace(/\r?\n$|\r$/, ''), receivedAt: NOW, transport: 'kafka', peer: null, zeek: null,
      // RFC 3164's default PRI 13 (user.notice) stands in for the PRI the template dropped.
      syslog: { ...SSHD_SYSLOG, facility: 1, severity: 5, timestamp },
    })
    expect(rawLogType.isValid(record)).toBe(true)
  })

  it('reads a line that kept its PRI as the ingestor does (RSYSLOG_ForwardFormat, RFC 5424)', async () => {
    expect((await decodeText(`<38>2026-12-10T06:55:46+00:00 LabSZ sshd[24200]: ${SSHD_MESSAGE}`)).syslog)
      .toEqual({ ...SSHD_SYSLOG, timestamp: '2026-12-10T06:55:46+00:00' })
    expect((await decodeText(`<38>1 2025-12-10T06:55:46.000000+00:00 LabSZ sshd 24200 - - ${SSHD_MESSAGE}\n`)).syslog)
      .toEqual({ ...SSHD_SYSLOG, format: 'RFC5424', timestamp: '2025-12-10T06:55:46.000000+00:00' })
  })

  it('takes a TAG without a timestamp (a program writing straight to kcat)', async () => {
    expect((await decodeText(`sshd[24200]: ${SSHD_MESSAGE}`)).syslog).toEqual({
      ...SSHD_SYSLOG, facility: 1, severity: 5, timestamp: null, hostname: null,
    })
  })

  it.each([
    'hello world',
    'GET /index.html HTTP/1.1 200',
    '{not json at all',
    '<html><body>oops</body></html>',
    '<165>1 2003-10-11T22:14:15.003Z mymachine evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl',
    '12 monkeys',
  ])('keeps text that is not syslog as a generic line: %s', async (text) => {
    expect(await decodeText(text)).toEqual({ line: text, receivedAt: NOW, transport: 'kafka', peer: null, syslog: null, zeek: null })
  })
})

describe('JSON documents from shippers', () => {
  it('rsyslog omkafka with a jsonf list template (docs/shippers.md)', async () => {
    const text = '{"@timestamp":"2026-12-10T06:55:46+00:00", "host":"LabSZ", "severity":"info", "facility":"auth", "programname":"sshd", "procid":"24200", '
      + `"msg":" ${SSHD_MESSAGE}", "rawmsg":"<38>Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}"}`
    expect(await decodeText(text)).toEqual({
      line: text, receivedAt: NOW, transport: 'kafka', peer: null, zeek: null,
      syslog: { ...SSHD_SYSLOG, format: 'RFC5424', timestamp: '2026-12-10T06:55:46+00:00' },
    })
  })

  it("rsyslog's %jsonmesg% (every property, numbers as strings)", async () => {
    const text = `{ "msg": " ${SSHD_MESSAGE}", "rawmsg": "<38>Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}", "timereported": "2026-12-10T06:55:46+00:00", `
      + '"hostname": "LabSZ", "syslogtag": "sshd[24200]:", "inputname": "imtcp", "fromhost": "localhost", "fromhost-ip": "127.0.0.1", "pri": "38", '
      + '"syslogfacility": "4", "syslogseverity": "6", "timegenerated": "2026-11-22T01:03:51.079446+00:00", "programname": "sshd", "protocol-version": "0", '
      + '"structured-data": "-", "app-name": "sshd", "procid": "24200", "msgid": "-", "uuid": null, "$!": null }'
    expect((await decodeText(text)).syslog).toEqual({ ...SSHD_SYSLOG, format: 'RFC5424', timestamp: '2026-12-10T06:55:46+00:00' })
  })

  it('rsyslog JSON with numeric facility and severity and only a syslogtag', async () => {
    const text = JSON.stringify({ timestamp: 'Dec 10 06:55:46', hostname: 'LabSZ', syslogtag: 'sshd[24200]:', syslogfacility: 4, syslogseverity: 6, message: SSHD_MESSAGE })
    expect((await decodeText(text)).syslog).toEqual(SSHD_SYSLOG)
  })

  it('rsyslog JSON with nothing but rawmsg is read from the raw line', async () => {
    const text = JSON.stringify({ rawmsg: `<38>Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}` })
    expect((await decodeText(text)).syslog).toEqual(SSHD_SYSLOG)
  })

  it('syslog-ng kafka-c with $(format-json --scope rfc5424 --exclude DATE --key ISODATE)', async () => {
    const text = `{"PROGRAM":"sshd","PRIORITY":"info","PID":"24200","MESSAGE":"${SSHD_MESSAGE}","ISODATE":"2026-12-10T06:55:46+00:00","HOST":"LabSZ","FACILITY":"auth"}`
    expect(await decodeText(text)).toEqual({
      line: text, receivedAt: NOW, transport: 'kafka', peer: null, zeek: null,
      syslog: { ...SSHD_SYSLOG, format: 'RFC5424', timestamp: '2026-12-10T06:55:46+00:00' },
    })
  })

  it('syslog-ng format-json with the BSD DATE, LEVEL_NUM and FACILITY_NUM', async () => {
    const text = JSON.stringify({ DATE: 'Dec 10 06:55:46', HOST: 'LabSZ', PROGRAM: 'sshd', PID: '24200', LEVEL_NUM: '6', FACILITY_NUM: '4', MESSAGE: SSHD_MESSAGE })
    expect((await decodeText(`${text}\n`)).syslog).toEqual(SSHD_SYSLOG)
  })

  it("Vector's syslog source through the kafka sink (codec json)", async () => {
    const text = JSON.stringify({
      appname: 'sshd', facility: 'auth', host: 'LabSZ', hostname: 'LabSZ', message: SSHD_MESSAGE, procid: 24200,
      severity: 'info', source_ip: '10.0.0.5', source_type: 'syslog', timestamp: '2025-12-10T06:55:46Z',
    })
    expect((await decodeText(text)).syslog).toEqual({ ...SSHD_SYSLOG, format: 'RFC5424', timestamp: '2025-12-10T06:55:46Z' })
  })

  it("Vector's file source: the message is the whole syslog line, and the line's own header wins", async () => {
    const text = JSON.stringify({
      file: '/var/log/auth.log', host: 'collector-1', message: `Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}`,
      source_type: 'file', timestamp: '2025-12-20T11:59:58.123456789Z',
    })
    expect((await decodeText(text)).syslog).toEqual({ ...SSHD_SYSLOG, facility: 1, severity: 5 })
  })

  it("Fluent Bit's syslog parser through out_kafka (epoch @timestamp, pri, ident, pid)", async () => {
    const text = JSON.stringify({ '@timestamp': 1765349746.0, pri: '38', host: 'LabSZ', ident: 'sshd', pid: '24200', message: SSHD_MESSAGE })
    expect((await decodeText(text)).syslog).toEqual({ ...SSHD_SYSLOG, format: 'RFC5424', timestamp: '2025-12-10T06:55:46.000Z' })
  })

  it("Fluent Bit's tail input (the line in `log`), with an ISO 8601 @timestamp", async () => {
    const text = JSON.stringify({ '@timestamp': '2025-12-20T11:59:58.123456Z', log: `Dec 10 06:55:46 LabSZ sshd[24200]: ${SSHD_MESSAGE}` })
    expect((await decodeText(text)).syslog).toEqual({ ...SSHD_SYSLOG, facility: 1, severity: 5 })
  })

  it.each([
    ['2025-12-10 06:55:46', '2025-12-10T06:55:46'],
    ['2025-12-10T06:55:46.1234567891z', '2025-12-10T06:55:46.123456789Z'],
    ['2025-12-10T06:55:46+0100', '2025-12-10T06:55:46+01:00'],
    ['1765349746123', '2025-12-10T06:55:46.123Z'],
    [1765349746123, '2025-12-10T06:55:46.123Z'],
    ['Dec  9 06:55:46', 'Dec  9 06:55:46'],
    ['yesterday', null],
  ])('normalises the timestamp %j to %j', async (timestamp, expected) => {
    const header = (await decodeText(JSON.stringify({ timestamp, appname: 'sshd', message: SSHD_MESSAGE }))).syslog!
    expect(header.timestamp).toBe(expected)
    expect(header.format).toBe(expected !== null && /^\d{4}-/.test(expected) ? 'RFC5424' : 'RFC3164')
  })

  it('reads an ECS host object and keeps an empty message', async () => {
    const header = (await decodeText(JSON.stringify({ host: { name: 'web-1' }, program: 'nginx', message: '' }))).syslog!
    expect(header).toMatchObject({ hostname: 'web-1', appName: 'nginx', message: '', facility: 1, severity: 5, timestamp: null })
  })

  it('reads a document after a BOM as a line of text, not JSON', async () => {
    const text = '\uFEFF{"conn": {"ts": 1765349746.1}}'
    expect(await decodeText(text)).toMatchObject({ line: text, zeek: null })
  })

  it('keeps a JSON document without a message as a generic line', async () => {
    const text = '{"level":"info","ts":1765349746.1,"caller":"main.go:42","msg_count":3}'
    expect(await decodeText(text)).toEqual({ line: text, receivedAt: NOW, transport: 'kafka', peer: null, syslog: null, zeek: null })
  })

  it('keeps the line of a pretty-printed document as written, less the last line end', async () => {
    const text = `{\n  "appname": "sshd",\n  "message": "${SSHD_MESSAGE}"\n}\n`
    const record = await decodeText(text)
    expect(record.line).toBe(text.slice(0, -1))
    expect(record.syslog).toMatchObject({ appName: 'sshd', message: SSHD_MESSAGE })
  })
})

describe('Zeek through Kafka', () => {
  const conn = { ts: 1765349746.123, uid: 'CHhAvVGS1DHFjwGM9', 'id.orig_h': '173.234.31.186', 'id.orig_p': 38926, 'id.resp_h': '10.0.0.1', 'id.resp_p': 22, proto: 'tcp' }

  it('zeek-kafka with Kafka::tag_json = T: {"conn": {...}}', async () => {
    const text = JSON.stringify({ conn })
    expect(await decodeText(text)).toEqual({
      line: text, receivedAt: NOW, transport: 'kafka', peer: null, syslog: null, zeek: { log: 'conn', fields: null, types: null },
    })
  })

  it('a JSON log record with _path', async () => {
    expect((await decodeText(JSON.stringify({ _path: 'ssh', ...conn, auth_success: false }))).zeek).toEqual({ log: 'ssh', fields: null, types: null })
  })

  it('a flat record whose log is named by a header', async () => {
    const record = await decodeText(JSON.stringify(conn), { zeek_log: 'conn' })
    expect(record.zeek).toEqual({ log: 'conn', fields: null, types: null })
    expect(record.syslog).toBeNull()
  })

  it('does not take any one-key document for Zeek', async () => {
    expect((await decodeText('{"message": {"text": "hi"}}')).zeek).toBeNull()
    expect((await decodeText('{"Conn": {"ts": 1}}')).zeek).toBeNull()
  })
})

describe('what is dead-lettered', () => {
  it.each<[string, Buffer | null, string]>([
    ['null', null, 'EMPTY_MESSAGE'],
    ['no bytes', Buffer.alloc(0), 'EMPTY_MESSAGE'],
    ['only a line end', bytesOf('\r\n'), 'EMPTY_MESSAGE'],
    ['binary', Buffer.from([0x01, 0x02]), 'UNKNOWN_WIRE_FORMAT'],
    ['invalid UTF-8', Buffer.from([0x3c, 0x33, 0x38, 0x3e, 0x61, 0xff, 0xfe, 0x62]), 'UNKNOWN_WIRE_FORMAT'],
    ['Latin-1 text', Buffer.from('Dec 10 06:55:46 host app: café', 'latin1'), 'UNKNOWN_WIRE_FORMAT'],
    ['two lines in one message', bytesOf('Dec 10 06:55:46 a b: one\nDec 10 06:55:47 a b: two'), 'UNKNOWN_WIRE_FORMAT'],
    ['an escape sequence', bytesOf('\u001b[31mred\u001b[0m'), 'UNKNOWN_WIRE_FORMAT'],
  ])('%s', async (_, bytes, code) => {
    expect(await deadLetterCode(bytes)).toBe(code)
  })

  it('says why, naming the topic', async () => {
    await expect(decode(Buffer.from([0x61, 0x00]), {})).rejects.toThrow(/p-raw-logs .*CONTROL_CHARACTERS.*control character 0x00 at byte 1/)
  })
})

describe('any bytes', () => {
  const check = async (bytes: Uint8Array) => {
    try {
      const record = await decode(Buffer.from(bytes), {})
      return rawLogType.isValid(record) && record.line.length > 0
    } catch (err) {
      return err instanceof CodecError
    }
  }

  it('become a valid raw-logs record or a dead-letter error, never anything else', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 2000 })
  })

  it('...also when they are text, JSON or nearly syslog', async () => {
    const printable = fc.string({ unit: 'grapheme', maxLength: 80 })
    const texts = fc.oneof(
      printable,
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ message: v, host: v, timestamp: v, pri: v, severity: v, facility: v, procid: v, _path: v })),
      fc.tuple(fc.constantFrom('<', '<38>', '<13>1 ', 'Dec 10 06:55:46 ', '2025-12-10T06:55:46Z ', '{"conn":', '{'), printable).map(([a, b]) => a + b),
    )
    await fc.assert(fc.asyncProperty(texts, (t) => check(Buffer.from(t, 'utf8'))), { numRuns: 2000 })
  })

  it('that are one line of text are never dead-lettered, and the line is kept exactly', async () => {
    const line = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }).filter((s) => ![...s].some((c) => c < ' ' && c !== '\t'))
    await fc.assert(fc.asyncProperty(line, async (text) => {
      const record = await decode(Buffer.from(text, 'utf8'), {})
      expect(record.line).toBe(text)
      expect(rawLogType.isValid(record)).toBe(true)
    }), { numRuns: 1000 })
  })
})
