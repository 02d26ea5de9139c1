import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { describe, expect, it } from 'vitest'
import { handleInput } from '../../../src/handle-input.ts'
import { createLineDeframer } from '../../../src/zeek/line-deframer.ts'
import { createZeekHeaderTracker, sendZeekFrame, type ZeekLineVerdict } from '../../../src/zeek/zeek-header-tracker.ts'
import { createFakeSink } from './fake-sink.ts'
import { zeekSampleFiles } from './zeek-samples.ts'

const HEADER = [
  '#separator \\x09',
  '#set_separator\t,',
  '#empty_field\t(empty)',
  '#unset_field\t-',
  '#path\tconn',
  '#open\t2017-03-08-13-47-04',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum',
]
const FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto']
const TYPES = ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum']
const ROW = '1521911720.600843\tCsPzgh4tp5lHBTnsrf\t10.47.1.152\t49562\t23.217.103.245\t80\ttcp'

function classifyAll(lines: string[], defaultLog: string | null = null): ZeekLineVerdict[] {
  const tracker = createZeekHeaderTracker({ defaultLog })
  return lines.map((l) => tracker.classify(Buffer.from(l)))
}

describe('createZeekHeaderTracker', () => {
  it('remembers the TSV header and attaches it to each data line; header lines are not data', () => {
    const verdicts = classifyAll([...HEADER, ROW, ROW, '#close\t2017-03-08-14-00-00'])
    expect(verdicts.slice(0, HEADER.length).every((v) => v.kind === 'header')).toBe(true)
    expect(verdicts[HEADER.length]).toEqual({ kind: 'data', zeek: { log: 'conn', fields: FIELDS, types: TYPES } })
    expect(verdicts[HEADER.length + 1]).toEqual(verdicts[HEADER.length])
    expect(verdicts.at(-1)).toEqual({ kind: 'header' })
  })

  it('rejects a TSV line before any #fields header, and one whose field count is not its header\'s', () => {
    expect(classifyAll([ROW])).toEqual([{ kind: 'reject', code: 'ZEEK_NO_HEADER', reason: 'TSV line before any #fields header' }])
    expect(classifyAll([...HEADER, `${ROW}\textra`]).at(-1)).toEqual({ kind: 'reject', code: 'ZEEK_FIELD_COUNT', reason: 'line has 8 fields, its #fields header 7' })
    expect(classifyAll([...HEADER, ROW.split('\t').slice(0, 3).join('\t')]).at(-1)).toMatchObject({ kind: 'reject', code: 'ZEEK_FIELD_COUNT' })
  })

  it('takes the log type of a TSV line from #path, else the default (the file name)', () => {
    const noPath = HEADER.filter((h) => !h.startsWith('#path'))
    expect(classifyAll([...noPath, ROW], 'conn').at(-1)).toMatchObject({ kind: 'data', zeek: { log: 'conn' } })
    expect(classifyAll([...noPath, ROW]).at(-1)).toMatchObject({ kind: 'reject', code: 'ZEEK_UNKNOWN_LOG' })
    expect(classifyAll([...HEADER, ROW], 'dns').at(-1)).toMatchObject({ kind: 'data', zeek: { log: 'conn' } })
  })

  it('starts over at each new header block', () => {
    const dnsHeader = ['#separator \\x09', '#path\tdns', '#fields\tts\tuid\tquery', '#types\ttime\tstring\tstring']
    const verdicts = classifyAll([...HEADER, ROW, ...dnsHeader, '1.0\tC1\texample.org', ROW])
    expect(verdicts[HEADER.length + dnsHeader.length + 1]).toEqual({ kind: 'data', zeek: { log: 'dns', fields: ['ts', 'uid', 'query'], types: ['time', 'string', 'string'] } })
    expect(verdicts.at(-1)).toMatchObject({ kind: 'reject', code: 'ZEEK_FIELD_COUNT' })
  })

  it('takes the log type of a JSON line from _path, a wrapper key, the stream\'s #path, or the default', () => {
    const json = '{"_path":"ssh","ts":"2018-03-24T17:16:39.739898Z","uid":"C2MugGdsn3ZVI1wn6"}'
    expect(classifyAll([json])).toEqual([{ kind: 'data', zeek: { log: 'ssh', fields: null, types: null } }])
    expect(classifyAll(['{"dns": {"ts":1,"query":"a.example"}}'])).toEqual([{ kind: 'data', zeek: { log: 'dns', fields: null, types: null } }])
    expect(classifyAll(['#path\tconn', '{"ts":1664462456.755299,"uid":"C5xhsO3uGtOfyrBlHh"}']).at(-1)).toEqual({ kind: 'data', zeek: { log: 'conn', fields: null, types: null } })
    expect(classifyAll(['{"ts":1}'], 'weird')).toEqual([{ kind: 'data', zeek: { log: 'weird', fields: null, types: null } }])
    expect(classifyAll(['{"ts":1}'])).toEqual([{ kind: 'reject', code: 'ZEEK_UNKNOWN_LOG', reason: 'JSON line without _path or a log wrapper key, and no #path before it' }])
    // _path inside a string value is not the record's.
    expect(classifyAll(['{"uri":"/x\\"_path\\":\\"conn\\"","ts":1}'])).toMatchObject([{ kind: 'reject', code: 'ZEEK_UNKNOWN_LOG' }])
  })

  it('rejects header lines it does not know or cannot read, and TSV written with another separator', () => {
    expect(classifyAll(['#comment\twhatever'])).toMatchObject([{ kind: 'reject', code: 'ZEEK_BAD_HEADER' }])
    expect(classifyAll(['#path\tconn log'])).toMatchObject([{ kind: 'reject', code: 'ZEEK_BAD_HEADER' }])
    expect(classifyAll(['#path'])).toMatchObject([{ kind: 'reject', code: 'ZEEK_BAD_HEADER' }])
    expect(classifyAll(['#fields\tts\t\tuid'])).toMatchObject([{ kind: 'reject', code: 'ZEEK_BAD_HEADER' }])
    const commas = ['#separator \\x2c', '#path,conn', '#fields,ts,uid', '1.0,C1']
    expect(classifyAll(commas).at(-1)).toMatchObject({ kind: 'reject', code: 'ZEEK_UNSUPPORTED_SEPARATOR' })
  })
})

describe('createLineDeframer', () => {
  const text = (frames: ReturnType<ReturnType<typeof createLineDeframer>['push']>) => frames.map((f) => (f.ok ? f.bytes.toString() : `!${f.code}:${f.length}:${f.preview.toString()}`))

  it('cuts lines across chunks, drops a CR before the LF, skips empty lines, and counts the unfinished line', () => {
    const d = createLineDeframer({ maxLineBytes: 100 })
    expect(text(d.push(Buffer.from('1.0\ta\r\n\n2.0')))).toEqual(['1.0\ta'])
    expect(d.pending()).toBe(3)
    expect(text(d.push(Buffer.from('\tb\n3')))).toEqual(['2.0\tb'])
    expect(d.pending()).toBe(1)
    expect(text(d.end())).toEqual(['3'])
    expect(d.pending()).toBe(0)
  })

  it('reports an over-long line once, with its first bytes, without keeping it, and goes on', () => {
    const d = createLineDeframer({ maxLineBytes: 10, previewBytes: 4 })
    const frames = [...d.push(Buffer.from('0123456')), ...d.push(Buffer.from('789abcdef\nok\n'))]
    expect(text(frames)).toEqual(['!FRAME_TOO_LONG:16:0123', 'ok'])
    expect(text(createLineDeframer({ maxLineBytes: 3 }).push(Buffer.from('abc\r\nabcd\n')))).toEqual(['abc', '!FRAME_TOO_LONG:4:abcd'])
  })
})

describe('Zeek lines through handleInput', () => {
  it('become raw-logs records with Zeek context and no syslog header, keyed by the sending host', () => {
    const zeek = { log: 'conn', fields: FIELDS, types: TYPES }
    const tcp = handleInput({ bytes: Buffer.from(`${ROW}\n`), transport: 'zeek-tcp', peer: '10.0.0.9:41000', receivedAt: 5, zeek })
    expect(tcp).toEqual({ ok: true, key: '10.0.0.9', record: { line: ROW, receivedAt: 5, transport: 'zeek-tcp', peer: '10.0.0.9:41000', syslog: null, zeek } })
    const file = handleInput({ bytes: Buffer.from(ROW), transport: 'file', peer: '/var/zeek/conn.log', host: 'sensor-1', receivedAt: 5, zeek: { log: 'dns' } })
    expect(file).toMatchObject({ ok: true, key: 'sensor-1', record: { transport: 'file', peer: '/var/zeek/conn.log', zeek: { log: 'dns', fields: null, types: null } } })
    expect(handleInput({ bytes: Buffer.from([0x31, 0xff, 0x09]), transport: 'zeek-tcp', peer: '10.0.0.9:1', receivedAt: 5, zeek })).toMatchObject({ ok: false, code: 'INVALID_UTF8' })
  })

  it('every data line of the Zeek samples becomes a record; no header line does', async () => {
    const all = zeekSampleFiles()
    expect(all.length).toBeGreaterThan(50)
    for (const path of all) {
      const bytes = readFileSync(path)
      const sink = createFakeSink()
      const tracker = createZeekHeaderTracker({ defaultLog: basename(path).split('.')[0]! })
      const deframer = createLineDeframer({ maxLineBytes: 64 * 1024 })
      const source = { transport: 'file' as const, peer: path, host: 'sensor' }
      for (const frame of [...deframer.push(bytes), ...deframer.end()]) await sendZeekFrame(frame, tracker, sink, source, 1)
      await sink.flush()
      const dataLines = bytes.toString('utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))
      expect(sink.rejected, path).toEqual([])
      expect(sink.lines(), path).toEqual(dataLines)
      for (const { value } of sink.sent) {
        expect(value.zeek?.log).toBe(path.includes('/zeek-json/') ? JSON.parse(value.line)._path : basename(path).split('.')[0])
        expect(value.zeek?.fields === null).toBe(value.line.startsWith('{'))
      }
    }
  })
})
