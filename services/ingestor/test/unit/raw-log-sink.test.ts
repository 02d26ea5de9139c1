import { createSocket } from 'node:dgram'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics, type KafkaRuntime, type TypedProducer } from '@vigil/platform'
import { waitFor } from '@vigil/testkit'
import type { Listener } from '../../src/framed-tcp-server.ts'
import { createRawLogSink, type RawLogSink } from '../../src/raw-log-sink.ts'
import { startSyslogUdp } from '../../src/syslog-listeners.ts'

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

function recordingLog() {
  const lines: Array<{ level: number; msg: string; refused?: number }> = []
  return { lines, log: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }) }
}

describe('the raw-log sink, fed by syslog UDP while Kafka refuses writes', () => {
  let udp: Listener | null = null
  afterEach(async () => {
    await udp?.close()
    udp = null
  })

  it('stops buffering at its cap, counts and logs the refused datagrams, and is not ready until it drains', async () => {
    const { state, producer } = flakyProducer()
    const { lines: logged, log } = recordingLog()
    const metrics = createMetrics('ingestor')
    const maxBufferedBytes = 64 * 1024
    const sink = createRawLogSink({
      kafka: {} as KafkaRuntime, producer, log, batchMax: 10, lingerMs: 5, maxBufferedBytes, refused: metrics.inputRefused,
    })
    const readiness: boolean[] = []
    sink.reportReadiness((ready) => readiness.push(ready))
    // Counts what reaches the sink, so the test knows when every datagram has been seen.
    let offered = 0
    const counting: RawLogSink = { ...sink, offer: (input) => (offered++, sink.offer(input)) }
    udp = await startSyslogUdp('127.0.0.1', 0, counting, log)

    const client = createSocket('udp4')
    const sent = 400
    for (let n = 0; n < sent; n++) {
      await new Promise<void>((resolve) => client.send(line(n), udp!.port, '127.0.0.1', () => resolve()))
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
