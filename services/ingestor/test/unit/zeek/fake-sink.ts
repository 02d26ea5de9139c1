import type { RawLog } from '@vigil/schemas'
import { handleInput } from '../../../src/handle-input.ts'
import type { RawLogSink, RejectedInput } from '../../../src/raw-log-sink.ts'

/** An in-memory sink: accepted records wait in `pending` until `flush()` moves them to `sent`, as the real one sends them to Kafka. */
export interface FakeSink extends RawLogSink {
  pending: Array<{ key: string; value: RawLog }>
  sent: Array<{ key: string; value: RawLog }>
  rejected: RejectedInput[]
  /** the lines sent, in order */
  lines(): string[]
}

export function createFakeSink(options: { failFlush?: boolean } = {}): FakeSink {
  const sink: FakeSink = {
    pending: [],
    sent: [],
    rejected: [],
    lines: () => sink.sent.map((r) => r.value.line),
    async accept(input) {
      const verdict = handleInput(input)
      if (verdict.ok) sink.pending.push({ key: verdict.key, value: verdict.record })
      else sink.rejected.push({ code: verdict.code, reason: verdict.reason, preview: input.bytes.subarray(0, 4096), length: input.bytes.length, transport: input.transport, peer: input.peer })
    },
    offer: (input) => ('code' in input ? sink.reject(input) : sink.accept(input)),
    async reject(input) {
      sink.rejected.push(input)
    },
    async flush() {
      if (options.failFlush) throw new Error('kafka is down')
      sink.sent.push(...sink.pending.splice(0))
    },
    reportReadiness: (setReady) => setReady(true),
    close: () => sink.flush(),
  }
  return sink
}
