import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createMetrics, PoisonMessageError, type KafkaRuntime, type TypedProducer } from '@vigil/platform'
import { sendTcpBytes, waitFor } from '@vigil/testkit'
import type { ReceivedInput } from '../../src/handle-input.ts'
import { createRawLogSink, type RawLogSink, type RawLogSinkOptions } from '../../src/raw-log-sink.ts'
import { startSyslogTcp, startSyslogUdp } from '../../src/syslog-listeners.ts'
import { closedAfterEach } from './closed-after-each.ts'

const line = (n: number) => `<38>Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user u${String(n).padStart(4, '0')} from 173.234.31.186 port 38926 ssh2`

/** A producer to raw-logs that refuses every send while `down`, as Kafka does in an outage, and records what it took. */
function flakyProducer() {
  const state = { down: true, attempts: 0, lines: [] as string[] }
  const producer = {
    async send(_topic: unknown, records: Array<{ value: { line: string } }>) {
      state.attempts++
      if (state.down) throw new Error('The producer is disconnected (simulated outage)')
      state.lines.push(...records.map((r) => r.value.line))
    },
  } as unknown as TypedProducer
  return { state, producer }
}

/** A sink as the ingestor makes one, with test settings: batches of 100, 5 ms linger, 1 MiB held at most. */
const testSink = (options: Pick<RawLogSinkOptions, 'producer'> & Partial<RawLogSinkOptions>): RawLogSink => createRawLogSink({
  kafka: {} as KafkaRuntime, log: recordingLog().log, batchMax: 100, lingerMs: 5, maxBufferedBytes: 1024 * 1024, refused: createMetrics('ingestor').inputRefused, ...options,
})

function recordingLog() {
  const lines: Array<{ level: number; msg: string; refused?: number }> = []
  return { lines, log: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }) }
}

describe('the raw-log sink, fed by syslog UDP while Kafka refuses writes', () => {
  const closing = closedAfterEach()

  it('stops buffering at its cap, counts and logs the refused datagrams, and is not ready until it drains', async () => {
    const { state, producer } = flakyProducer()
    const { lines: logged, log } = recordingLog()
    const metrics = createMetrics('ingestor')
    const maxBufferedBytes = 64 * 1024
    const sink = testSink({ producer, log, batchMax: 10, maxBufferedBytes, refused: metrics.inputRefused })
    const readiness: boolean[] = []
    sink.reportReadiness((ready) => readiness.push(ready))
    // Counts what reaches the sink, so the test knows when every datagram has been seen.
    let offered = 0
    const counting: RawLogSink = { ...sink, offer: (input) => (offered++, sink.offer(input)) }
    const udp = closing(await startSyslogUdp('127.0.0.1', 0, 64 * 1024, counting, log))

    const client = createSocket('udp4')
    const sent = 400
    for (let n = 0; n < sent; n++) {
      await new Promise<void>((resolve) => client.send(line(n), udp.port, '127.0.0.1', () => resolve()))
      if (n % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 20)) // within the socket's receive buffer
    }
    client.close()
    await waitFor('every datagram to reach the sink', () => offered === sent, 10_000)

    const refusedCount = async () => (await metrics.inputRefused.get()).values.find((v) => v.labels.transport === 'syslog-udp')?.value ?? 0
    const refused = await refusedCount()
    const held = sent - refused
    // The buffer stopped growing at the cap: what it holds fits in it, and it took as much as fits.
    expect(refused).toBeGreaterThan(0)
    expect(held * Buffer.byteLength(line(0))).toBeLessThanOrEqual(maxBufferedBytes)
    expect(held).toBeGreaterThanOrEqual(Math.floor(maxBufferedBytes / (Buffer.byteLength(line(0)) + 1024)))
    expect(state.lines).toEqual([])
    expect(readiness).toEqual([true, false])
    // Logged once for the episode, not once a datagram.
    expect(logged.filter((l) => l.msg.startsWith('buffer towards raw-logs is full'))).toHaveLength(1)

    // Kafka is back: the buffer drains, every line held is sent, and the sink is ready again.
    state.down = false
    await waitFor('the held lines to be sent', () => state.lines.length === held, 15_000)
    expect(state.lines).toEqual(Array.from({ length: held }, (_, n) => line(n)))
    await waitFor('ready again', () => readiness.at(-1) === true, 5_000)
    expect(readiness).toEqual([true, false, true])
    expect(logged.find((l) => l.msg.startsWith('buffer towards raw-logs has drained'))).toMatchObject({ refused })

    // With room again, datagrams are taken again.
    await sink.offer({ bytes: Buffer.from(line(sent)), transport: 'syslog-udp', peer: '127.0.0.1:9', receivedAt: Date.now() })
    await sink.flush()
    expect(state.lines.at(-1)).toBe(line(sent))
    expect(await refusedCount()).toBe(refused)
  })
})

/** A dead-letter topic that refuses the first `failures` dead letters, as in an outage, and records the rest. */
/** A sink whose raw-logs producer is up and whose dead letters fail `failures` times before they go. */
function sinkWithFailingDeadLetters(failures: number) {
  const { state, producer } = flakyProducer()
  state.down = false
  const { state: deadLetters, kafka } = flakyDeadLetters(failures)
  const { log } = recordingLog()
  return { state, deadLetters, log, sink: testSink({ kafka, producer, log }) }
}

function flakyDeadLetters(failures: number) {
  const state = { attempts: 0, letters: [] as Array<{ code: string; message: string; value: string; length: number | undefined }> }
  const kafka = {
    async deadLetterInput(_topic: unknown, source: { length?: number }, value: Buffer, error: { code: string; message: string }) {
      if (++state.attempts <= failures) throw new Error('The producer is disconnected (simulated outage)')
      state.letters.push({ ...error, value: value.toString(), length: source.length })
    },
  } as unknown as KafkaRuntime
  return { state, kafka }
}

const received = (line: string, transport: ReceivedInput['transport'] = 'syslog-tcp'): ReceivedInput => ({ bytes: Buffer.from(line), transport, peer: '127.0.0.1:9', receivedAt: Date.now() })

describe('the raw-log sink, fed by a steady syslog TCP sender while Kafka refuses writes', () => {
  const closing = closedAfterEach()

  it('holds the sender once the held bytes pass the high-water mark, though no batch fills, and takes the rest once Kafka is back', async () => {
    const { state, producer } = flakyProducer()
    const { log } = recordingLog()
    const maxBufferedBytes = 64 * 1024
    // Batches of 500 lines never fill from a sender of 10 lines at a time: only the bytes can hold it.
    const sink = testSink({ producer, log, batchMax: 500, maxBufferedBytes })
    let accepted = 0
    const tcp = closing(await startSyslogTcp('127.0.0.1', 0, 64 * 1024, { ...sink, accept: (input) => (accepted++, sink.accept(input)) }, log))

    const socket = connect(tcp.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    const sent = 600
    for (let n = 0; n < sent; n += 10) {
      socket.write(Array.from({ length: 10 }, (_, i) => `${line(n + i)}\n`).join(''))
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    // What a line costs the sink (heldCost): its bytes and ~0.5 KiB for its record.
    const cost = Buffer.byteLength(line(0)) + 1 + 512
    await waitFor('the sink to stop taking lines', async () => {
      const before = accepted
      await new Promise((resolve) => setTimeout(resolve, 300))
      return accepted === before && accepted > 0
    }, 10_000, 0)
    // Held at the high-water mark (half the cap, leaving the rest to UDP), not at a count of lines:
    // the line that passes it is taken, the next one waits (counted here as it is offered).
    expect(accepted * cost).toBeLessThanOrEqual(maxBufferedBytes / 2 + 2 * cost)
    expect(accepted * cost).toBeGreaterThan(maxBufferedBytes / 2 - 2 * cost)

    state.down = false
    await waitFor('every line to be sent', () => state.lines.length === sent, 15_000)
    expect(state.lines).toEqual(Array.from({ length: sent }, (_, n) => line(n)))
    socket.destroy()
  })
})

describe('the raw-log sink, fed by many syslog TCP connections while Kafka refuses writes', () => {
  it('holds them all at the high-water mark, leaving the other half of the cap to UDP', async () => {
    const { state, producer } = flakyProducer()
    const { log } = recordingLog()
    const metrics = createMetrics('ingestor')
    const maxBufferedBytes = 256 * 1024
    const sink = testSink({ producer, log, batchMax: 500, maxBufferedBytes, refused: metrics.inputRefused })
    let offered = 0
    const tcp = await startSyslogTcp('127.0.0.1', 0, 64 * 1024, { ...sink, accept: (input) => (offered++, sink.accept(input)) }, log)
    const long = (n: number) => `${line(n)} ${'x'.repeat(8 * 1024)}`
    const cost = Buffer.byteLength(long(0)) + 1 + 512
    const connections = 20
    const sockets = await Promise.all(Array.from({ length: connections }, async () => {
      const socket = connect(tcp.port, '127.0.0.1')
      await new Promise((resolve) => socket.once('connect', resolve))
      return socket
    }))
    try {
      // Every connection sends more than the mark holds: each one ends up held.
      sockets.forEach((socket, c) => socket.write(Array.from({ length: 20 }, (_, i) => `${long(c * 100 + i)}\n`).join('')))
      await waitFor('every connection to be held', async () => {
        const before = offered
        await new Promise((resolve) => setTimeout(resolve, 300))
        return offered === before && offered >= connections
      }, 10_000, 0)
      // UDP still finds the room between the mark and the cap: the connections passed the mark by one line, not one each.
      const datagrams = 20
      for (let n = 0; n < datagrams; n++) await sink.offer({ ...received(long(5000 + n)), transport: 'syslog-udp' })
      const refused = (await metrics.inputRefused.get()).values.find((v) => v.labels.transport === 'syslog-udp')?.value ?? 0
      expect(datagrams - refused).toBeGreaterThanOrEqual(Math.floor((maxBufferedBytes / 2) / cost) - 1)
      state.down = false
      await waitFor('every line to be sent', () => state.lines.length === connections * 20 + datagrams - refused, 15_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await tcp.close()
    }
  })
})

describe('the raw-log sink, when a dead letter cannot be sent at once', () => {
  const closing = closedAfterEach()

  it('retries it, holding the sender, and then hands over the lines that came after it', async () => {
    const { state, deadLetters, log, sink } = sinkWithFailingDeadLetters(2)
    const tcp = closing(await startSyslogTcp('127.0.0.1', 0, 64 * 1024, sink, log))

    await sendTcpBytes('127.0.0.1', tcp.port, Buffer.from(`${line(0)}\nnot syslog at all\n${line(2)}\n${line(3)}\n`))
    await waitFor('the lines after the dead letter', () => state.lines.length === 3, 10_000)
    expect(state.lines).toEqual([line(0), line(2), line(3)])
    expect(deadLetters.attempts).toBe(3)
    expect(deadLetters.letters).toEqual([{ code: 'NO_PRI', message: expect.any(String), value: 'not syslog at all', length: 17 }])
  })
})

describe('the raw-log sink, when the broker refuses a record for good', () => {
  it('dead-letters a line whose record is too large, with the reason, and writes the others of its batch once', async () => {
    const written: string[] = []
    const sends: number[] = []
    // As the platform's producer does: the records the broker takes are written, and a refusal names no record.
    const producer = {
      async send(_topic: unknown, records: Array<{ value: { line: string } }>) {
        sends.push(records.length)
        const tooLarge = records.filter((r) => r.value.line.length > 200 * 1024)
        written.push(...records.filter((r) => !tooLarge.includes(r)).map((r) => r.value.line))
        if (tooLarge.length > 0) throw new PoisonMessageError('OUTPUT_TOO_LARGE', `raw-logs refused the output record of ${2 * tooLarge[0]!.value.line.length} bytes: MESSAGE_TOO_LARGE: too large`)
      },
    } as unknown as TypedProducer
    const { state: deadLetters, kafka } = flakyDeadLetters(0)
    const sink = testSink({ kafka, producer, maxBufferedBytes: 64 * 1024 * 1024 })
    const big = `<38>Dec 10 06:55:46 LabSZ sshd[24200]: ${'y'.repeat(600_000)}`
    for (const input of [received(line(0)), received(big), received(line(2)), received(line(3))]) await sink.accept(input)
    await sink.flush()

    expect(written).toEqual([line(0), line(2), line(3)])
    expect(sends).toEqual([1, 1, 2]) // the batch before it, the long line alone, the batch after it
    expect(deadLetters.letters).toEqual([{ code: 'OUTPUT_TOO_LARGE', message: expect.stringContaining('MESSAGE_TOO_LARGE'), value: big, length: big.length }])
  })

  it('sends each line of a batch again alone when it cannot tell which record was refused, and dead-letters that one', async () => {
    const written: string[] = []
    const producer = {
      async send(_topic: unknown, records: Array<{ value: { line: string } }>) {
        const refused = records.filter((r) => r.value.line.includes('refused'))
        written.push(...records.filter((r) => !refused.includes(r)).map((r) => r.value.line))
        if (refused.length > 0) throw new PoisonMessageError('OUTPUT_REFUSED_BY_BROKER', 'raw-logs refused the output record of 99 bytes: INVALID_RECORD: no')
      },
    } as unknown as TypedProducer
    const { state: deadLetters, kafka } = flakyDeadLetters(0)
    const sink = testSink({ kafka, producer, maxBufferedBytes: 64 * 1024 * 1024 })
    const odd = `${line(1)} refused`
    for (const input of [received(line(0)), received(odd), received(line(2))]) await sink.accept(input)
    await sink.flush()

    // Nothing lost: the others twice (once with the batch, once alone), the refused one dead-lettered.
    expect(written).toEqual([line(0), line(2), line(0), line(2)])
    expect(deadLetters.letters.map((l) => [l.code, l.value])).toEqual([['OUTPUT_REFUSED_BY_BROKER', odd]])
  })
})

describe('syslog UDP', () => {
  const closing = closedAfterEach()

  it('dead-letters a datagram over MAX_LINE_BYTES whole, as FRAME_TOO_LONG, and takes the next one', async () => {
    const { state, deadLetters, log, sink } = sinkWithFailingDeadLetters(0)
    const udp = closing(await startSyslogUdp('127.0.0.1', 0, 4096, sink, log))
    const long = `${line(0)} ${'z'.repeat(5000)}`
    const client = createSocket('udp4')
    for (const datagram of [long, line(1)]) await new Promise<void>((resolve) => client.send(datagram, udp.port, '127.0.0.1', () => resolve()))
    client.close()
    await waitFor('the short datagram', () => state.lines.length === 1, 10_000)
    await waitFor('the dead letter', () => deadLetters.letters.length === 1, 10_000)
    expect(state.lines).toEqual([line(1)])
    expect(deadLetters.letters).toEqual([{ code: 'FRAME_TOO_LONG', message: expect.stringContaining('4096'), value: long, length: long.length }])
  })
})
