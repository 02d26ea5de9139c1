import { runService } from '@vigil/platform'
import { loadConfig } from './config.ts'
import { createRawLogSink } from './raw-log-sink.ts'
import { startSyslogTcp, startSyslogUdp } from './syslog-listeners.ts'

await runService({ name: 'ingestor', loadConfig }, async ({ config, log, kafka, onShutdown }) => {
  const producer = await kafka.producer()
  const sink = createRawLogSink({ kafka, producer, log, batchMax: config.PRODUCE_BATCH_MAX, lingerMs: config.PRODUCE_LINGER_MS })

  const udp = await startSyslogUdp(config.SYSLOG_BIND, config.SYSLOG_UDP_PORT, sink, log)
  const tcp = await startSyslogTcp(config.SYSLOG_BIND, config.SYSLOG_TCP_PORT, config.MAX_LINE_BYTES, sink, log)

  onShutdown(sink, udp, tcp) // closed in reverse: stop listening, then flush what was accepted
})
