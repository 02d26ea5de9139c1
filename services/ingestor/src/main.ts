import { hostname } from 'node:os'
import { runService } from '@vigil/platform'
import { loadConfig } from './config.ts'
import { createRawLogSink } from './raw-log-sink.ts'
import { startSyslogTcp, startSyslogUdp } from './syslog-listeners.ts'
import { startZeekDirTailer } from './zeek/zeek-dir-tailer.ts'
import { startZeekTcpListener } from './zeek/zeek-tcp-listener.ts'

await runService({ name: 'ingestor', loadConfig, readiness: 'manual' }, async ({ config, log, metrics, kafka, setReady, onShutdown }) => {
  const producer = await kafka.producer()
  const sink = createRawLogSink({
    kafka, producer, log, batchMax: config.PRODUCE_BATCH_MAX, lingerMs: config.PRODUCE_LINGER_MS,
    maxBufferedBytes: config.PRODUCE_BUFFER_MAX_BYTES, refused: metrics.inputRefused,
  })

  const udp = await startSyslogUdp(config.SYSLOG_BIND, config.SYSLOG_UDP_PORT, config.MAX_LINE_BYTES, sink, log)
  const tcp = await startSyslogTcp(config.SYSLOG_BIND, config.SYSLOG_TCP_PORT, config.MAX_LINE_BYTES, sink, log)
  const zeekTcp = config.ZEEK_TCP_PORT > 0
    ? await startZeekTcpListener(config.ZEEK_TCP_BIND, config.ZEEK_TCP_PORT, config.MAX_LINE_BYTES, sink, log)
    : null
  const zeekFiles = config.ZEEK_LOG_DIR && config.ZEEK_STATE_FILE
    ? await startZeekDirTailer({
      dir: config.ZEEK_LOG_DIR, stateFile: config.ZEEK_STATE_FILE, pollMs: config.ZEEK_POLL_MS,
      sink, log, maxLineBytes: config.MAX_LINE_BYTES, host: hostname(),
    })
    : null

  // Ready while the buffer towards raw-logs is below its high-water mark: while Kafka is slow or
  // away, the Service sends new senders to other instances.
  sink.reportReadiness(setReady)
  // closed in reverse: stop listening and tailing, then flush what was accepted
  onShutdown(sink, udp, tcp, ...[zeekTcp, zeekFiles].filter((r) => r !== null))
})
