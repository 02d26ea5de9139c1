import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { topicsWithDeadLetters, type Topic } from '@vigil/schemas'
import { baseConfig, ConfigError, parseConfig } from '../config.ts'
import { redriveDeadLetters, summarizeDeadLetters } from '../dead-letters.ts'
import { createKafkaRuntime } from '../kafka.ts'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'

const USAGE = `usage: npm run dlq -- <command>

  summary                   every dead-letter topic's records, by topic, service and error code
  redrive <topic> [--code CODE]... [--dry-run]
                            send <topic>'s dead letters (all, or those with one of the codes) to
                            <topic> again, once the cause is mended; each dead letter is
                            sent at most once, and a pass ends at the topic's end when it began

Reads KAFKA_BROKERS, TOPIC_PREFIX, SCHEMA_REGISTRY_URL (and the Kafka and registry security
settings) like the services.`

/** Runs one command; returns the exit code: 0 done, 1 failed, 2 wrong usage or settings. */
export async function runDeadLettersCli(argv: string[], env: Record<string, string | undefined>, print: (line: string) => void = (line) => void process.stdout.write(`${line}\n`)): Promise<number> {
  const fail = (message: string, code: number) => {
    process.stderr.write(`dlq: ${message}\n`)
    return code
  }
  let args: ReturnType<typeof parse>
  try {
    args = parse(argv)
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`, 2)
  }
  const [command, topicName, ...rest] = args.positionals
  // The command before the settings: the usage needs none of them.
  if (!command || args.values.help) {
    print(USAGE)
    return command || args.values.help ? 0 : 2
  }
  const redrivable = topicsWithDeadLetters()
  let topic: Topic<unknown> | undefined
  if (command === 'redrive') {
    topic = redrivable.find((t) => t.name === topicName)
    if (!topic) return fail(`redrive needs one of: ${redrivable.map((t) => t.name).join(', ')}\n${USAGE}`, 2)
  } else if (command !== 'summary' || topicName !== undefined) {
    return fail(`unknown command: ${[command, topicName].filter(Boolean).join(' ')}\n${USAGE}`, 2)
  }
  if (rest.length > 0) return fail(`unexpected arguments: ${rest.join(' ')}\n${USAGE}`, 2)
  let config: ReturnType<typeof parseConfig<typeof baseConfig>>
  try {
    config = parseConfig(baseConfig, env)
  } catch (err) {
    if (err instanceof ConfigError) return fail(`config error: ${err.problems.join('; ')}`, 2)
    throw err
  }

  // The client's retries are not news to an operator; its failures are printed below.
  const log = createLogger('dlq', config.LOG_LEVEL === 'info' ? 'error' : config.LOG_LEVEL, 'dlq-cli')
  let fatal: unknown = null
  // An operator wants an error, not a wait, when the broker or the registry is away.
  const kafka = await createKafkaRuntime('dlq', config, log, createMetrics('dlq'), (err) => (fatal = err), { startupWaitMs: 0 }).catch((err: unknown) => err as Error)
  if (kafka instanceof Error) return fail(kafka.message, 1)
  try {
    await kafka.waitForBroker() // one try: a broker that is away is an error now, not after the client's minute of retries
    if (topic) {
      const result = await redriveDeadLetters(kafka, topic, { codes: args.values.code ?? [], dryRun: args.values['dry-run'] ?? false })
      const list = (counts: Record<string, number>) => Object.entries(counts).map(([code, n]) => `${code} ${n}`).join(', ') || 'none'
      print(`${args.values['dry-run'] ? 'would send' : 'sent'} ${result.redriven} dead letters to ${kafka.kafkaName(topic)} again`)
      print(`left alone for their code: ${list(result.skippedByCode)}`)
      print(`not redrivable: ${list(result.notRedrivable)}`)
    } else {
      const groups = await summarizeDeadLetters(kafka)
      if (groups.length === 0) print('no dead letters')
      for (const g of groups) {
        print(`${g.topic}  ${g.service}  ${g.code}  ${g.count}  ${new Date(g.firstFailedAt).toISOString()} .. ${new Date(g.lastFailedAt).toISOString()}`)
        print(`    last: ${g.lastMessage}`)
        if (g.lastPreview) print(`    bytes: ${JSON.stringify(g.lastPreview)}`)
      }
    }
    if (fatal) return fail((fatal as Error).message, 1)
    return 0
  } catch (err) {
    return fail((err as Error).message, 1)
  } finally {
    await kafka.closeProducer().catch(() => {})
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv, allowPositionals: true,
    options: { code: { type: 'string', multiple: true }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // The CLI's one read of the environment; baseConfig says what it may hold.
  // eslint-disable-next-line no-restricted-properties
  process.exit(await runDeadLettersCli(process.argv.slice(2), process.env))
}
