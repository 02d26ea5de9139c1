import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { builtinModules } from 'node:module'
import type { AddressInfo } from 'node:net'
import { posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'

/**
 * The images (Dockerfile, .dockerignore) and the compose app profile, checked without a Docker
 * engine. The Dockerfile is parsed line by line; each service target's files are worked out from
 * its COPY lines, the repository and .dockerignore; and each target must hold what its entry points
 * import and read at run time (found by following their imports), and nothing dev-only. Every
 * check also runs on a mutated file, where it must complain.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string) => readFileSync(ROOT + path, 'utf8')
const real = { dockerfile: read('Dockerfile'), dockerignore: read('.dockerignore'), compose: read('docker-compose.yml') }
type Files = typeof real

/** Every service, from their one list (the ServiceName type in schemas/src/topics.ts). */
const SERVICES = /export type ServiceName = ([^\n]+)/.exec(read('schemas/src/topics.ts'))![1]!.match(/'[^']+'/g)!.map((s) => s.slice(1, -1))
/** What each image runs: its service's main.ts, and for the trainer the models CLI as well. */
const ENTRY_POINTS: Record<string, string[]> = Object.fromEntries(SERVICES.map((s) => [s, [`services/${s}/src/main.ts`]]))
ENTRY_POINTS.trainer!.push('services/trainer/src/cli/models-cli.ts')
/** Never in an image: tests, fixtures, benchmarks and the test kit (no service imports it). */
const DEV_ONLY = [/(^|\/)test\//, /(^|\/)fixtures\//, /^bench\//, /^packages\/testkit\//]

describe('container images', () => {
  it('cover every service', () => {
    expect(SERVICES).toEqual(['ingestor', 'featurizer', 'scorer', 'alerter', 'trainer'])
    expect([...SERVICES].sort()).toEqual(readdirSync(ROOT + 'services').sort())
  })

  it('copy only paths that exist and that .dockerignore lets into the build context', () => {
    expect(checkContextCopies(real)).toEqual([])
    expect(checkContextCopies(edit(real, 'dockerfile', 'CMD ["services/trainer/src/main.ts"]', '$&\nCOPY services/nowhere services/nowhere')))
      .toEqual([expect.stringMatching(/^COPY services\/nowhere \(line \d+\): no such path in the repository$/)])
    expect(checkContextCopies({ ...real, dockerignore: `${real.dockerignore}schemas/\n` })).toEqual([
      expect.stringMatching(/^COPY schemas\/package.json \(line \d+\): excluded by \.dockerignore$/),
      expect.stringMatching(/^COPY schemas \(line \d+\): excluded by \.dockerignore$/),
    ])
  })

  it('copy --from earlier stages only', () => {
    expect(checkFromReferences(real)).toEqual([])
    expect(checkFromReferences(edit(real, 'dockerfile', 'COPY package.json tsconfig.json', 'COPY --from=trainer /app/services/trainer services/trainer\n$&')))
      .toEqual([expect.stringMatching(/^COPY --from=trainer \(line \d+\): no earlier stage is named trainer$/)])
  })

  it('run every service as a user other than root', () => {
    expect(checkNonRootUser(real)).toEqual([])
    expect(checkNonRootUser(edit(real, 'dockerfile', /^USER .*\n/m, ''))).toEqual(SERVICES.map((s) => `${s}: no USER, so it runs as root`))
    expect(checkNonRootUser(edit(real, 'dockerfile', 'CMD ["services/scorer/src/main.ts"]', 'USER 0:0\n$&'))).toEqual(['scorer: runs as root (USER 0:0)'])
  })

  it('have a target per service that runs its main.ts', () => {
    expect(checkServiceTargets(real)).toEqual([])
    expect(checkServiceTargets(edit(real, 'dockerfile', 'FROM runtime AS scorer', 'FROM runtime AS scoring'))).toEqual(['scorer: no target'])
    expect(checkServiceTargets(edit(real, 'dockerfile', 'CMD ["services/alerter/src/main.ts"]', 'CMD ["services/alerter/src/index.ts"]')))
      .toEqual(['alerter: runs services/alerter/src/index.ts, not services/alerter/src/main.ts'])
  })

  it('hold nothing dev-only', () => {
    expect(checkNoDevFiles(real)).toEqual([])
    const withTests = { ...real, dockerignore: real.dockerignore.replace('**/test/\n', '') }
    expect(checkNoDevFiles(withTests)).toContain('featurizer: copies services/featurizer/test/unit/decode-raw-log.test.ts')
    const withWholeDepsStage = edit(real, 'dockerfile', 'COPY --from=deps /app/node_modules node_modules', 'COPY --from=deps /app .')
    expect(checkNoDevFiles(withWholeDepsStage)).toContain('ingestor: copies packages/testkit/package.json')
  })

  it('hold the code, workspaces, assets and npm packages each service uses at run time', () => {
    expect(checkRuntimeFiles(real)).toEqual([])
    const noPlatform = checkRuntimeFiles(edit(real, 'dockerfile', 'COPY packages/platform packages/platform\n', ''))
    expect(noPlatform).toContain('ingestor: lacks packages/platform/src/index.ts')
    expect(noPlatform).toContain('trainer: lacks packages/platform/package.json')
    const noAssets = checkRuntimeFiles({ ...real, dockerignore: `${real.dockerignore}**/*.lua\n**/*.avsc\n**/migrations/\nschemas/postgres/\n` })
    expect(noAssets).toContain('featurizer: lacks services/featurizer/src/adapters/entity-window.lua (read by services/featurizer/src/adapters/feature-store.ts)')
    expect(noAssets).toContain('ingestor: lacks schemas/avro/raw-logs.avsc (read by schemas/src/codec.ts)')
    expect(noAssets).toContain('trainer: lacks services/trainer/migrations/001_feature_history.sql (read by services/trainer/src/adapters/database.ts)')
    expect(noAssets).toContain('scorer: lacks packages/models/migrations/001_model_versions.sql (read by packages/models/src/model-registry.ts)')
    expect(noAssets).toContain('alerter: lacks schemas/postgres/001_flagged_entities.sql (read by schemas/src/postgres.ts)')
  })

  it('find what a source file imports and reads, and refuse what they cannot follow', () => {
    const graph = runtimeGraph(['services/featurizer/src/main.ts'])
    expect(graph.problems).toEqual([])
    expect([...graph.assetReaders.keys()]).toEqual(expect.arrayContaining(['services/featurizer/src/adapters/entity-window.lua', 'schemas/avro']))
    expect([...graph.packages.keys()]).toContain('maxmind')
    const refs = (text: string) => sourceReferences('services/x/src/y.ts', text)
    expect(refs("import type { A } from 'a'\nimport {\n  b,\n  type C,\n} from 'b'\nexport * from './c.ts'\nexport type { D } from './d.ts'\nimport './e.ts'").imports).toEqual([
      { spec: 'a', typeOnly: true }, { spec: 'b', typeOnly: false }, { spec: './c.ts', typeOnly: false }, { spec: './d.ts', typeOnly: true }, { spec: './e.ts', typeOnly: false },
    ])
    expect(refs("export const a = 1\nconst s = 'from \"x\"'\nexport function f() { return s }").imports).toEqual([])
    expect(refs("readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'rules', 'x.yml'))").assets).toEqual(['services/x/rules/x.yml'])
    expect(refs("const a = new URL('../data/x.bin', import.meta.url)").assets).toEqual(['services/x/data/x.bin'])
    expect(refs("const r = join(dirname(createRequire(import.meta.url).resolve('@vigil/sigma')), '..', 'rules')").assets).toEqual(['packages/sigma/rules'])
    expect(refs('const here = dirname(fileURLToPath(import.meta.url))').problems)
      .toEqual(['services/x/src/y.ts: uses import.meta in a way this check does not follow (teach sourceReferences in test/deploy/container-images.test.ts)'])
    expect(refs("readFileSync('rules/x.yml')").problems).toEqual(['services/x/src/y.ts: reads a path relative to the working directory'])
  })

  it('install production dependencies from the lockfile with every workspace manifest', () => {
    expect(checkInstallStage(real)).toEqual([])
    expect(checkInstallStage(edit(real, 'dockerfile', 'COPY packages/sigma/package.json packages/sigma/\n', '')))
      .toEqual(['deps: npm ci runs without packages/sigma/package.json'])
    expect(checkInstallStage(edit(real, 'dockerfile', 'npm ci --omit=dev', 'npm ci'))).toEqual(['deps: npm ci installs devDependencies (no --omit=dev)'])
  })

  it('keep dependencies, caches, git, tests, fixtures and benchmarks out of the build context', () => {
    expect(checkIgnored(real)).toEqual([])
    expect(checkIgnored({ ...real, dockerignore: real.dockerignore.replace('**/node_modules/\n', '') }))
      .toEqual(['services/featurizer/node_modules/x/index.js is in the build context'])
  })

  it('run as the compose app profile: one target each, the ports they listen on, a valid environment, a node health check', async () => {
    expect(await checkCompose(real)).toEqual([])
    expect(await checkCompose(edit(real, 'compose', 'target: featurizer', 'target: featuriser')))
      .toEqual(['featurizer: builds target featuriser, not featurizer', 'featurizer: the Dockerfile has no target featuriser'])
    expect(await checkCompose(edit(real, 'compose', ', "5515:5515/tcp"', ''))).toEqual(['ingestor: listens on 5515/tcp (ZEEK_TCP_PORT) but does not publish it'])
    expect(await checkCompose(edit(real, 'compose', 'SYSLOG_UDP_PORT: "5514"', 'SYSLOG_UDP_PORT: "syslog"')))
      .toEqual([expect.stringMatching(/^ingestor: its environment fails its config: SYSLOG_UDP_PORT: /)])
    expect(await checkCompose(edit(real, 'compose', /"CMD", "node", "-e", "[^\n]+"\]/, '"CMD", "curl", "-f", "http://127.0.0.1:9464/healthz"]')))
      .toEqual(SERVICES.map((s) => `${s}: the health check does not run node on /healthz`))
  }, 60_000) // loads each service's config module, five times

  it('have a compose health check that passes while /healthz answers 200 only', async () => {
    const healthcheck = (parseYaml(real.compose, { merge: true }) as Compose).services.scorer!.healthcheck!.test
    expect(healthcheck.slice(0, 3)).toEqual(['CMD', 'node', '-e'])
    const probe = (port: number) => new Promise<number | null>((resolve) => {
      spawn(process.execPath, ['-e', healthcheck[3]!], { env: { METRICS_PORT: String(port) }, stdio: 'ignore' }).on('exit', resolve)
    })
    for (const [status, exitCode] of [[200, 0], [503, 1]] as const) {
      const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? status : 404).end())
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as AddressInfo
      expect(await probe(port)).toBe(exitCode)
      await new Promise((resolve) => server.close(resolve))
      expect(await probe(port)).toBe(1) // nothing listens
    }
  }, 30_000)
})

// ---------------------------------------------------------------------------------------------
// The checks, each returning its problems, one line each.

function checkContextCopies(files: Files): string[] {
  const excluded = parseIgnore(files.dockerignore)
  return parseDockerfile(files.dockerfile).flatMap((stage) => stage.instructions.filter(isContextCopy).flatMap((copy) =>
    copy.args.slice(0, -1).flatMap((source) => {
      const matches = expandSource(source)
      if (matches.length === 0) return [`${copy.op} ${source} (line ${copy.line}): no such path in the repository`]
      return matches.every((m) => filesUnder(m).every(excluded)) ? [`${copy.op} ${source} (line ${copy.line}): excluded by .dockerignore`] : []
    })))
}

function checkFromReferences(files: Files): string[] {
  const stages = parseDockerfile(files.dockerfile)
  return stages.flatMap((stage) => stage.instructions.filter((i) => i.flags.from !== undefined).flatMap((i) =>
    stages.slice(0, stage.index).some((s) => s.name === i.flags.from) ? [] : [`${i.op} --from=${i.flags.from} (line ${i.line}): no earlier stage is named ${i.flags.from}`]))
}

function checkNonRootUser(files: Files): string[] {
  return serviceStages(files).flatMap(([service, stage]) => {
    const user = lastOf(stage, 'USER')?.args[0]
    if (user === undefined) return [`${service}: no USER, so it runs as root`]
    return /^(root|0)(:.*)?$/.test(user) ? [`${service}: runs as root (USER ${user})`] : []
  })
}

function checkServiceTargets(files: Files): string[] {
  const stages = parseDockerfile(files.dockerfile)
  const excluded = parseIgnore(files.dockerignore)
  return SERVICES.flatMap((service) => {
    const stage = stages.find((s) => s.name === service)
    if (!stage) return [`${service}: no target`]
    const main = `services/${service}/src/main.ts`
    const script = [...(lastOf(stage, 'ENTRYPOINT')?.args ?? []), ...(lastOf(stage, 'CMD')?.args ?? [])].find((arg) => arg.endsWith('.ts'))
    if (script !== main) return [`${service}: runs ${script ?? 'no .ts file'}, not ${main}`]
    return imageFiles(stage, excluded).get(posix.join(workdirOf(stage), main)) === main ? [] : [`${service}: ${main} is not in the image`]
  })
}

function checkNoDevFiles(files: Files): string[] {
  const excluded = parseIgnore(files.dockerignore)
  return serviceStages(files).flatMap(([service, stage]) => [...new Set(imageFiles(stage, excluded).values())].sort()
    .filter((path) => DEV_ONLY.some((re) => re.test(path))).map((path) => `${service}: copies ${path}`))
}

function checkRuntimeFiles(files: Files): string[] {
  const excluded = parseIgnore(files.dockerignore)
  const installed = lockfile().packages
  return serviceStages(files).flatMap(([service, stage]) => {
    const image = imageFiles(stage, excluded)
    const has = (path: string) => image.get(posix.join(workdirOf(stage), path)) === path
    const graph = runtimeGraph(ENTRY_POINTS[service]!)
    const problems = graph.problems.map((p) => `${service}: ${p}`)
    for (const path of [...graph.sources, ...[...graph.workspaces].map((w) => `${w}/package.json`)]) {
      if (!has(path)) problems.push(`${service}: lacks ${path}`)
    }
    for (const [asset, reader] of graph.assetReaders) {
      for (const path of filesUnder(asset)) if (!has(path)) problems.push(`${service}: lacks ${path} (read by ${reader})`)
    }
    for (const [name, importer] of graph.packages) {
      const entry = installed[`node_modules/${name}`]
      if (!entry) problems.push(`${service}: ${importer} imports ${name}, which the lockfile does not install`)
      else if (entry.dev) problems.push(`${service}: ${importer} imports ${name}, a devDependency (npm ci --omit=dev leaves it out)`)
      const owner = workspaces().find((w) => importer.startsWith(`${w.dir}/`))
      if (owner && !owner.dependencies.includes(name)) problems.push(`${service}: ${importer} imports ${name}, which ${owner.dir}/package.json does not list in dependencies`)
    }
    return problems
  })
}

function checkInstallStage(files: Files): string[] {
  const isInstall = (i: Instruction) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args[0]!)
  const stages = parseDockerfile(files.dockerfile).filter((s) => s.instructions.some(isInstall))
  if (stages.length !== 1) return [`${stages.length} stages run npm ci, not 1`]
  const stage = stages[0]!
  const run = stage.instructions.find(isInstall)!
  const before = imageFiles(stage, parseIgnore(files.dockerignore), run.line)
  const problems = /--omit=dev\b/.test(run.args[0]!) ? [] : [`${stage.name}: npm ci installs devDependencies (no --omit=dev)`]
  for (const path of ['package.json', 'package-lock.json', '.npmrc', ...workspaces().map((w) => `${w.dir}/package.json`)]) {
    if (before.get(posix.join(workdirOf(stage, run.line), path)) !== path) problems.push(`${stage.name}: npm ci runs without ${path}`)
  }
  return problems
}

function checkIgnored(files: Files): string[] {
  const excluded = parseIgnore(files.dockerignore)
  const outside = ['node_modules/x/index.js', 'services/featurizer/node_modules/x/index.js', '.cache/stack/stack.env', '.git/HEAD', 'test/fixtures/loghub/x.log',
    'services/scorer/test/unit/x.test.ts', 'bench/pipeline/run.ts', 'packages/testkit/src/index.ts', 'docs/features.md', '.env']
  return outside.filter((path) => !excluded(path)).map((path) => `${path} is in the build context`)
}

interface ComposeService {
  profiles?: string[]
  build?: { context?: string, dockerfile?: string, target?: string }
  command?: unknown
  environment?: Record<string, unknown>
  ports?: (string | { target: number, protocol?: string })[]
  healthcheck?: { test: string[] }
}
interface Compose { services: Record<string, ComposeService> }

async function checkCompose(files: Files): Promise<string[]> {
  const compose = parseYaml(files.compose, { merge: true }) as Compose
  const stages = parseDockerfile(files.dockerfile)
  const scraped = (parseYaml(read('deploy/prometheus.yml')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] })
    .scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets))
  const problems: string[] = []
  for (const service of SERVICES) {
    const app = compose.services[service]
    if (!app?.profiles?.includes('app')) { problems.push(`${service}: not a compose app service`); continue }
    const { context = '', dockerfile = 'Dockerfile', target } = app.build ?? {}
    if (posix.normalize(context) !== '.' || dockerfile !== 'Dockerfile') problems.push(`${service}: builds ${context}/${dockerfile}, not ./Dockerfile`)
    if (target !== service) problems.push(`${service}: builds target ${target}, not ${service}`)
    const stage = stages.find((s) => s.name === target)
    if (!stage) problems.push(`${service}: the Dockerfile has no target ${target}`)
    if (app.command !== undefined) problems.push(`${service}: overrides the image's command`)
    const check = app.healthcheck?.test ?? []
    if (check[1] !== 'node' || !check.some((a) => a.includes('/healthz'))) problems.push(`${service}: the health check does not run node on /healthz`)

    const env = Object.fromEntries(Object.entries(app.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]))
    const { loadConfig } = await import(`${ROOT}services/${service}/src/config.ts`) as { loadConfig: (env: Record<string, string>) => Record<string, unknown> }
    let config: Record<string, unknown>
    try {
      config = loadConfig(env)
    } catch (err) {
      problems.push(`${service}: its environment fails its config: ${(err as Error).message}`)
      continue
    }
    if (!scraped.includes(`${service}:${config.METRICS_PORT}`)) problems.push(`${service}: Prometheus does not scrape ${service}:${config.METRICS_PORT}`)
    const listens = Object.entries(config).filter(([k, v]) => k.endsWith('_PORT') && k !== 'METRICS_PORT' && typeof v === 'number' && v > 0)
      .map(([key, port]) => ({ key, port: `${port}/${key.includes('UDP') ? 'udp' : 'tcp'}` }))
    const published = (app.ports ?? []).map((p) => typeof p === 'string'
      ? `${p.split('/')[0]!.split(':').at(-1)}/${p.split('/')[1] ?? 'tcp'}`
      : `${p.target}/${p.protocol ?? 'tcp'}`)
    for (const { key, port } of listens) if (!published.includes(port)) problems.push(`${service}: listens on ${port} (${key}) but does not publish it`)
    for (const port of published) if (!listens.some((l) => l.port === port)) problems.push(`${service}: publishes ${port}, which no *_PORT setting names`)
    if (!stage) continue
    const exposed = chainOf(stage).flatMap((s) => s.instructions).filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args).map((p) => p.includes('/') ? p : `${p}/tcp`)
    for (const port of [`${config.METRICS_PORT}/tcp`, ...published]) if (!exposed.includes(port)) problems.push(`${service}: target ${target} does not EXPOSE ${port}`)
  }
  return problems
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile: stages of instructions, and what each stage holds from the build context.

interface Instruction { op: string, args: string[], flags: Record<string, string>, line: number }
interface Stage { name: string, index: number, parent: Stage | undefined, instructions: Instruction[], all: Stage[] }

/** Stages in order; a stage FROM an earlier one has it as parent. RUN keeps its shell text whole. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = []
  let pending = ''
  let start = 0
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line.startsWith('#') || (pending === '' && line === '')) return
    if (pending === '') start = i + 1
    if (line.endsWith('\\')) { pending += `${line.slice(0, -1)} `; return }
    const [, word = '', rest = ''] = /^(\S+)\s*([\s\S]*)$/.exec(pending + line)!
    pending = ''
    const op = word.toUpperCase()
    const flags: Record<string, string> = {}
    let body = rest
    for (let m; op !== 'RUN' && (m = /^--([\w-]+)(?:=(\S+))?\s*/.exec(body)); body = body.slice(m[0].length)) flags[m[1]!] = m[2] ?? ''
    const args = op === 'RUN' ? [body] : body.startsWith('[') ? JSON.parse(body) as string[] : body.split(/\s+/).filter(Boolean)
    if (op === 'FROM') {
      const name = args[1]?.toLowerCase() === 'as' ? args[2]! : String(stages.length)
      stages.push({ name, index: stages.length, parent: stages.find((s) => s.name === args[0]), instructions: [], all: stages })
    } else {
      stages.at(-1)?.instructions.push({ op, args, flags, line: start }) // ARG before the first FROM is not a stage's
    }
  })
  return stages
}

function serviceStages(files: Files): [string, Stage][] {
  const stages = parseDockerfile(files.dockerfile)
  return SERVICES.flatMap((service) => stages.filter((s) => s.name === service).map((s): [string, Stage] => [service, s]))
}

const isContextCopy = (i: Instruction) => (i.op === 'COPY' || i.op === 'ADD') && i.flags.from === undefined

function chainOf(stage: Stage): Stage[] {
  return stage.parent ? [...chainOf(stage.parent), stage] : [stage]
}

function lastOf(stage: Stage, op: string): Instruction | undefined {
  return chainOf(stage).flatMap((s) => s.instructions).filter((i) => i.op === op).at(-1)
}

/** The working directory of `stage` (before its own line `beforeLine`). */
function workdirOf(stage: Stage, beforeLine = Infinity): string {
  let dir = '/'
  for (const s of chainOf(stage)) {
    for (const i of s.instructions) if (i.op === 'WORKDIR' && (s !== stage || i.line < beforeLine)) dir = posix.resolve(dir, i.args[0]!)
  }
  return dir
}

/**
 * What `stage` holds from the build context (before its own line `beforeLine`): path in the image
 * → path in the repository, from its and its base stages' COPY lines and what COPY --from takes of
 * an earlier stage's. Files that RUN makes, such as node_modules, are not followed.
 */
function imageFiles(stage: Stage, excluded: (path: string) => boolean, beforeLine = Infinity): Map<string, string> {
  const files = stage.parent ? imageFiles(stage.parent, excluded) : new Map<string, string>()
  for (const copy of stage.instructions.filter((i) => (i.op === 'COPY' || i.op === 'ADD') && i.line < beforeLine)) {
    const sources = copy.args.slice(0, -1)
    const destination = posix.resolve(workdirOf(stage, copy.line), copy.args.at(-1)!)
    const intoDirectory = sources.length > 1 || /\/$|^\.$/.test(copy.args.at(-1)!) || sources.some((s) => /[*?[]/.test(s))
    const put = (relative: string, repoPath: string, isFile: boolean) =>
      files.set(isFile ? (intoDirectory ? posix.join(destination, posix.basename(repoPath)) : destination) : posix.join(destination, relative), repoPath)
    if (copy.flags.from === undefined) {
      for (const match of sources.flatMap(expandSource)) {
        const isFile = !isDirectory(match)
        for (const path of filesUnder(match).filter((f) => !excluded(f))) put(posix.relative(match, path), path, isFile)
      }
    } else {
      const other = stage.all.slice(0, stage.index).find((s) => s.name === copy.flags.from)
      if (!other) continue
      for (const source of sources) {
        const root = posix.resolve(workdirOf(other), source)
        for (const [path, repoPath] of imageFiles(other, excluded)) {
          if (path === root) put('', repoPath, true)
          else if (root === '/' || path.startsWith(`${root}/`)) put(posix.relative(root, path), repoPath, false)
        }
      }
    }
  }
  return files
}

// ---------------------------------------------------------------------------------------------
// The repository and the build context.

/** Repository paths a COPY source names (`*`, `?` and `[...]` within a path segment, as Docker's). */
function expandSource(source: string): string[] {
  const normalized = posix.normalize(source.replace(/^\/+/, ''))
  if (normalized === '.') return ['']
  let paths = ['']
  for (const segment of normalized.replace(/\/$/, '').split('/')) {
    const re = globRegex(segment)
    paths = paths.flatMap((dir) => !/[*?[]/.test(segment)
      ? (existsSync(ROOT + posix.join(dir, segment)) ? [posix.join(dir, segment)] : [])
      : isDirectory(dir) ? readdirSync(ROOT + dir).filter((name) => re.test(name)).map((name) => posix.join(dir, name)) : [])
  }
  return paths
}

function isDirectory(path: string): boolean {
  return existsSync(ROOT + path) && statSync(ROOT + path).isDirectory()
}

/** The files at or under a repository path (not descending into node_modules, .git or .cache, which never reach the context). */
function filesUnder(path: string): string[] {
  let files = filesUnderCache.get(path)
  if (!files) {
    files = !isDirectory(path) ? (existsSync(ROOT + path) ? [path] : [])
      : readdirSync(ROOT + path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
        .filter((e) => !['node_modules', '.git', '.cache'].includes(e.name))
        .flatMap((e) => e.isDirectory() ? filesUnder(posix.join(path, e.name)) : [posix.join(path, e.name)])
    filesUnderCache.set(path, files)
  }
  return files
}
const filesUnderCache = new Map<string, string[]>() // the repository does not change while the checks run

/**
 * Docker's .dockerignore: each pattern matches a path or one of its parent directories, `!`
 * re-includes, and the last pattern that matches decides. Returns whether a path stays out.
 */
function parseIgnore(text: string): (path: string) => boolean {
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negated = l.startsWith('!')
    const pattern = posix.normalize((negated ? l.slice(1).trim() : l).replace(/^\/+/, '')).replace(/\/+$/, '')
    return { negated, re: globRegex(pattern) }
  })
  return (path) => {
    const segments = path.split('/')
    const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'))
    let excluded = false
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negated
    return excluded
  }
}

function globRegex(glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '*' && glob[i + 1] === '*') {
      i++
      if (glob[i + 1] === '/') { i++; re += '(?:.*/)?' } else re += '.*'
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') { const end = glob.indexOf(']', i); re += glob.slice(i, end + 1).replace('[!', '[^'); i = end }
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

interface Lockfile { packages: Record<string, { dev?: boolean, link?: boolean }> }
let lockfileCache: Lockfile | undefined
const lockfile = (): Lockfile => (lockfileCache ??= JSON.parse(read('package-lock.json')) as Lockfile)

interface Workspace { dir: string, name: string, entry: string, dependencies: string[] }

/** The npm workspaces, as the lockfile lists them. */
function workspaces(): Workspace[] {
  return workspacesCache ??= Object.keys(lockfile().packages).filter((k) => k !== '' && !k.includes('node_modules')).map((dir) => {
    const pkg = JSON.parse(read(`${dir}/package.json`)) as { name: string, exports?: string | Record<string, string>, dependencies?: Record<string, string> }
    const entry = typeof pkg.exports === 'string' ? pkg.exports : pkg.exports?.['.'] ?? 'index.js'
    return { dir, name: pkg.name, entry: posix.join(dir, entry), dependencies: Object.keys(pkg.dependencies ?? {}) }
  })
}
let workspacesCache: Workspace[] | undefined

// ---------------------------------------------------------------------------------------------
// What runs: the source files, workspaces, assets and npm packages reached from entry points.

interface RuntimeGraph {
  sources: Set<string>
  workspaces: Set<string>
  /** asset (file or directory) → the first source file that reads it */
  assetReaders: Map<string, string>
  /** npm package → the first source file that imports it */
  packages: Map<string, string>
  problems: string[]
}

function runtimeGraph(entries: string[]): RuntimeGraph {
  const graph: RuntimeGraph = { sources: new Set(), workspaces: new Set(), assetReaders: new Map(), packages: new Map(), problems: [] }
  const byName = new Map(workspaces().map((w) => [w.name, w]))
  const queue = [...entries]
  for (let file; (file = queue.shift()) !== undefined;) {
    if (graph.sources.has(file)) continue
    graph.sources.add(file)
    const refs = sourceReferences(file, read(file))
    graph.problems.push(...refs.problems)
    for (const asset of refs.assets) {
      if (!existsSync(ROOT + asset)) graph.problems.push(`${file}: reads ${asset}, which does not exist`)
      if (!graph.assetReaders.has(asset)) graph.assetReaders.set(asset, file)
    }
    for (const { spec, typeOnly } of refs.imports) {
      if (typeOnly || spec.startsWith('node:') || builtinModules.includes(spec)) continue
      if (spec.startsWith('.')) {
        const path = posix.join(posix.dirname(file), spec)
        if (existsSync(ROOT + path)) queue.push(path)
        else graph.problems.push(`${file}: imports ${spec}, which does not exist`)
        continue
      }
      const name = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/')
      if (!graph.packages.has(name)) graph.packages.set(name, file)
      const workspace = byName.get(name)
      if (workspace && spec !== name) graph.problems.push(`${file}: imports ${spec}, a subpath of a workspace this check does not follow`)
      else if (workspace) { graph.workspaces.add(workspace.dir); queue.push(workspace.entry) }
    }
  }
  return graph
}

/**
 * What one source file imports and which repository paths it reads, found in its text: static
 * imports and re-exports, `new URL('…', import.meta.url)` and `join(dirname(…import.meta.url…), '…')`.
 * Any other use of import.meta, or a read of a literal relative path, is a problem: the check
 * would not see what it reads.
 */
function sourceReferences(file: string, text: string) {
  const imports: { spec: string, typeOnly: boolean }[] = []
  const statements = [
    /^import\s+(type\s+)?[\w$*{},\s]+?\s*from\s*['"]([^'"]+)['"]/gm,
    /^export\s+(type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[\w$,\s]*\})\s*from\s*['"]([^'"]+)['"]/gm,
    /^import\s*()['"]([^'"]+)['"]/gm,
    /\bimport\(\s*()['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const re of statements) for (const m of text.matchAll(re)) imports.push({ spec: m[2]!, typeOnly: Boolean(m[1]) })
  imports.sort((a, b) => text.indexOf(`'${a.spec}'`) - text.indexOf(`'${b.spec}'`))

  const here = posix.dirname(file)
  const segments = (list: string) => [...list.matchAll(/'([^']*)'/g)].map((m) => m[1]!)
  const workspaceEntry = (name: string) => workspaces().find((w) => w.name === name)?.entry
  const assets: string[] = []
  const problems: string[] = []
  const readers: [RegExp, (m: RegExpMatchArray) => string | undefined][] = [
    [/new URL\(\s*'([^']+)'\s*,\s*import\.meta\.url\s*\)/g, (m) => posix.join(here, m[1]!)],
    [/join\(\s*dirname\(\s*fileURLToPath\(\s*import\.meta\.url\s*\)\s*\)((?:\s*,\s*'[^']*')+)\s*\)/g, (m) => posix.join(here, ...segments(m[1]!))],
    [/join\(\s*import\.meta\.dirname((?:\s*,\s*'[^']*')+)\s*\)/g, (m) => posix.join(here, ...segments(m[1]!))],
    [/join\(\s*dirname\(\s*createRequire\(\s*import\.meta\.url\s*\)\.resolve\(\s*'([^']+)'\s*\)\s*\)((?:\s*,\s*'[^']*')+)\s*\)/g, (m) => {
      const entry = workspaceEntry(m[1]!)
      return entry && posix.join(posix.dirname(entry), ...segments(m[2]!))
    }],
  ]
  let rest = text
  for (const [re, resolve] of readers) {
    for (const m of text.matchAll(re)) {
      const asset = resolve(m)
      if (asset) assets.push(asset)
      else problems.push(`${file}: resolves ${m[1]}, which is not a workspace, to read files`)
    }
    rest = rest.replace(re, '')
  }
  // uses of import.meta that read nothing: npm package resolution, and "am I the main module"
  rest = rest.replace(/createRequire\(\s*import\.meta\.url\s*\)/g, '').replace(/fileURLToPath\(\s*import\.meta\.url\s*\)\s*===\s*process\.argv\[1\]/g, '')
  if (/import\.meta/.test(rest)) problems.push(`${file}: uses import.meta in a way this check does not follow (teach sourceReferences in test/deploy/container-images.test.ts)`)
  if (/\b(?:readFileSync|readFile|readdirSync|readdir|createReadStream|openSync)\(\s*(?:['"]|`(?!\$\{))(?!\/)/.test(text)) {
    problems.push(`${file}: reads a path relative to the working directory`)
  }
  return { imports, assets, problems }
}

// ---------------------------------------------------------------------------------------------

/** compose's `${NAME:-default}` and `${NAME}`, with nothing set in the environment. */
function interpolate(value: string): string {
  return value.replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_, fallback: string | undefined) => fallback ?? '').replace(/\$\$/g, '$')
}

/** `files` with `search` in one of them replaced (which must be there: a mutation that changes nothing proves nothing). */
function edit(files: Files, which: keyof Files, search: string | RegExp, replacement: string): Files {
  const before = files[which]
  if (typeof search === 'string' ? !before.includes(search) : !search.test(before)) throw new Error(`${which} has no ${String(search)}`)
  return { ...files, [which]: before.replace(search, replacement) }
}
