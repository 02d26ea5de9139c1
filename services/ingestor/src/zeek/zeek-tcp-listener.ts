import type { Logger } from '@vigil/platform'
import { startFramedTcpServer, type Listener } from '../framed-tcp-server.ts'
import type { RawLogSink } from '../raw-log-sink.ts'
import { createLineDeframer } from './line-deframer.ts'
import { createZeekHeaderTracker, sendZeekFrame } from './zeek-header-tracker.ts'

/**
 * Zeek output over TCP, one line per record: TSV with its `#` header lines (remembered per
 * connection, attached to each data line, never sent themselves) or JSON (log type from `_path`, a
 * wrapper key, or a first `#path<TAB>conn` line). Records are keyed by the peer's host.
 */
export function startZeekTcpListener(bind: string, port: number, maxLineBytes: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  return startFramedTcpServer('zeek tcp', bind, port, log, (peer) => {
    const source = { transport: 'zeek-tcp' as const, peer }
    const deframer = createLineDeframer({ maxLineBytes })
    const tracker = createZeekHeaderTracker()
    return {
      push: (chunk) => deframer.push(chunk),
      end: () => deframer.end(),
      handle: (frame, receivedAt) => sendZeekFrame(frame, tracker, sink, source, receivedAt),
    }
  })
}
