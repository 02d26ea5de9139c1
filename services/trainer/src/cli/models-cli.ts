import { hostname, userInfo } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ConfigError, createKafkaRuntime, createLogger, createMetrics, createPgPool, UnreachableError, type KafkaRuntime } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { migrateTrainerDatabase } from '../adapters/database.ts'
import { createTrainingRequests } from '../adapters/training-requests.ts'
import { CliError } from './cli-error.ts'
import { loadCliConfig, type CliConfig } from './config.ts'
import { listCommand, promoteCommand, retrainCommand, rollbackCommand, shadowCommand, showCommand, type CommandDeps } from './models-commands.ts'

const USAGE = `usage: npm run models -w @vigil/trainer -- <command> [--model NAME]

  list                      every version, newest first, and where it runs
  show <version>            parameters, metrics, audit trail, deployments
  promote <version>         make it live (model-control: promoted); the live one is retired
  rollback [<version>]      back to <version>, or to the version live before the current one
  shadow <version>          run it beside the live version, without alerts
  retrain [--reason TEXT] [--wait] [--timeout SECONDS]
                            ask the trainer to train a new version now

Reads PG_URL (and KAFKA_BROKERS, TOPIC_PREFIX, SCHEMA_REGISTRY_URL to publish) like the services; MODEL_NAME or --model picks the model.`

/** Runs one command; returns the exit code: 0 done, 1 refused or failed, 2 wrong usage or settings. */
export async function runModelsCli(argv: string[], env: Record<string, string | undefined>, print: (line: string) => void = (line) => void process.stdout.write(`${line}\n`)): Promise<number> {
  const fail = (message: string, code: number) => {
    process.stderr.write(`models: ${message}\n`)
    return code
  }
  let args: ReturnType<typeof parse>
  try {
    args = parse(argv)
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`, 2)
  }
  const [command, version, ...rest] = args.positionals
  // The command before the settings: the usage needs none of them.
  if (!command || args.values.help) {
    print(USAGE)
    return command || args.values.help ? 0 : 2
  }
  if (rest.length > 0) return fail(`unexpected arguments: ${rest.join(' ')}\n${USAGE}`, 2)
  if (!isCommand(command)) return fail(`unknown command ${command}\n${USAGE}`, 2)
  if (VERSION_OF[command] === 'required' && !version) return fail(`${command} needs a version\n${USAGE}`, 2)
  const timeout = Number(args.values.timeout ?? 600)
  if (!(timeout > 0)) return fail(`--timeout must be a number of seconds, got ${args.values.timeout}`, 2)
  let config: CliConfig
  try {
    config = loadCliConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return fail(`config error: ${err.problems.join('; ')}`, 2)
    throw err
  }

  const log = createLogger('trainer', config.LOG_LEVEL, 'models-cli')
  const pool = createPgPool(config, log)
  let kafka: KafkaRuntime | null = null
  try {
    await migrateTrainerDatabase(pool, log)
    const deps: CommandDeps = {
      pool,
      requests: createTrainingRequests(pool),
      model: args.values.model ?? config.MODEL_NAME,
      actor: `cli:${userInfo().username}@${hostname()}`,
      print,
      async modelControl() {
        if (!config.KAFKA_BROKERS) throw new CliError('KAFKA_BROKERS is not set: publishing on model-control needs the brokers', 2)
        kafka ??= await createKafkaRuntime('trainer', { ...config, KAFKA_BROKERS: config.KAFKA_BROKERS }, log, createMetrics('trainer'), (err) => {
          process.stderr.write(`models: kafka failed: ${(err as Error).message}\n`)
          process.exitCode = 1
        }, { startupWaitMs: 0 })
        await kafka.waitForBroker() // one try: a broker that is away is an error now, not after the client's minute of retries
        await kafka.ensureTopics()
        const producer = await kafka.producer()
        return (records) => producer.send(topics.modelControl, records)
      },
    }
    switch (command) {
      case 'list': await listCommand(deps); break
      case 'show': await showCommand(deps, version!); break
      case 'promote': await promoteCommand(deps, version!); break
      case 'rollback': await rollbackCommand(deps, version); break
      case 'shadow': await shadowCommand(deps, version!); break
      case 'retrain': await retrainCommand(deps, { reason: args.values.reason, waitMs: args.values.wait ? timeout * 1000 : undefined }); break
    }
    return 0
  } catch (err) {
    if (err instanceof CliError) return fail(err.message, err.exitCode)
    if (err instanceof UnreachableError) return fail(err.message, 1)
    return fail(`failed: ${(err as Error).stack ?? String(err)}`, 1)
  } finally {
    const running = kafka as KafkaRuntime | null
    await running?.closeProducer().catch(() => {})
    await pool.end().catch(() => {})
  }
}

/** Each command, and whether it takes a version: checked before any setting is read or connection made. */
const VERSION_OF = { list: 'none', show: 'required', promote: 'required', rollback: 'optional', shadow: 'required', retrain: 'none' } as const
const isCommand = (name: string): name is keyof typeof VERSION_OF => Object.hasOwn(VERSION_OF, name)

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      reason: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // The CLI's one read of the environment; config.ts says what it may hold.
  // eslint-disable-next-line no-restricted-properties
  process.exit(await runModelsCli(process.argv.slice(2), process.env))
}
