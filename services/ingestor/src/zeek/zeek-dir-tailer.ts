import { watch, type FSWatcher } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, stat, writeFile, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Logger } from '@vigil/platform'
import type { RawLogSink } from '../raw-log-sink.ts'
import { createLineDeframer, type LineDeframer } from './line-deframer.ts'
import { createZeekHeaderTracker, sendZeekFrame, type ZeekHeaderTracker } from './zeek-header-tracker.ts'

export interface ZeekDirTailerOptions {
  /** the Zeek log directory; every `*.log` in it is tailed */
  dir: string
  /** where positions are kept across restarts (JSON) */
  stateFile: string
  sink: Pick<RawLogSink, 'accept' | 'reject' | 'flush'>
  log: Logger
  maxLineBytes: number
  /** the sending host: the key of every record (the lines were written on this host) */
  host: string
  /** ms between looks at the directory when fs.watch reports nothing; null: never on its own, only on `poll()` */
  pollMs?: number | null
  /** bytes per read */
  chunkBytes?: number
  /** bytes read between two checkpoints while catching up on a large file */
  checkpointBytes?: number
}

export interface ZeekDirTailer {
  /** Reads what is new in the directory now, then checkpoints. */
  poll(): Promise<void>
  /** Stops watching, finishes the read in progress and checkpoints. */
  close(): Promise<void>
}

/** The state file: per tailed file, the position up to which its lines have reached Kafka. */
interface TailerState {
  version: 1
  /** `path` is the name the file is tailed under (conn.log), also while it is being finished under a rotated name */
  files: Array<{ path: string; ino: string; offset: number }>
  /** rotated files read to their end that are still in the directory, so they are not taken for new ones */
  done: Array<{ path: string; ino: string }>
}

interface TailedFile {
  /** the `*.log` name it was found under */
  path: string
  /** where it is now (differs once Zeek has renamed it away) */
  current: string
  ino: string
  handle: FileHandle
  /** bytes read so far */
  position: number
  deframer: LineDeframer
  tracker: ZeekHeaderTracker
  /** renamed away or deleted: read to its end, then dropped */
  rotated: boolean
}

// Zeek rotates conn.log to conn.2024-01-01-00-00-00.log: a `.log` name with a dot-digit part is an
// old file, read only to finish one we were tailing when it was renamed.
const ROTATED_NAME = /^[^.]+\.\d.*\.log$/
const LIVE_NAME = /^[^.].*\.log$/
const HEADER_SCAN_BYTES = 1024 * 1024
const MIN_CYCLE_GAP_MS = 100

/**
 * Tails every `*.log` file of a Zeek log directory, sending complete lines through the sink with
 * the file's Zeek context (log type from the `#path` header or the file name, TSV headers tracked
 * per file). New lines are noticed through fs.watch, with a periodic look as the fallback. Rotation
 * by rename (or deletion) is noticed by the name's inode changing: the old file is read to its end
 * before the new one is started; a file that shrank was truncated and is read again from its start.
 * A partial last line waits for its newline. Positions are saved to `stateFile` only after the sink
 * has flushed every line before them, so a crash re-sends lines but never skips any.
 */
export async function startZeekDirTailer(options: ZeekDirTailerOptions): Promise<ZeekDirTailer> {
  const { dir, stateFile, sink, log, maxLineBytes, host, pollMs = 1_000, chunkBytes = 256 * 1024, checkpointBytes = 8 * 1024 * 1024 } = options
  const tailed = new Map<string, TailedFile>() // by inode
  let saved = await loadState(stateFile, log)
  const done = new Map((saved?.done ?? []).map((d) => [d.ino, d.path])) // by inode: where a finished file lies
  let lastWritten = ''
  let readSinceCheckpoint = 0
  const problems = new Map<string, string>() // path → last error logged, so a lasting problem is logged once

  const newFile = async (path: string, current: string, ino: string, offset: number, rotated: boolean): Promise<TailedFile | null> => {
    let handle: FileHandle
    try {
      handle = await open(current, 'r')
    } catch (err) {
      report(current, err, 'cannot open zeek log')
      return null
    }
    const file: TailedFile = {
      path, current, ino, handle, position: offset, rotated,
      deframer: createLineDeframer({ maxLineBytes }),
      tracker: createZeekHeaderTracker({ defaultLog: logTypeOf(path) }),
    }
    if (offset > 0) await replayHeaders(file)
    tailed.set(ino, file)
    log.info({ path: current, offset, rotated }, 'tailing zeek log')
    return file
  }

  // Resuming mid-file: the TSV header at its top says what the lines are, so read it again (without sending it).
  const replayHeaders = async (file: TailedFile) => {
    const length = Math.min(file.position, HEADER_SCAN_BYTES)
    const buffer = Buffer.alloc(length)
    const { bytesRead } = await file.handle.read(buffer, 0, length, 0)
    const deframer = createLineDeframer({ maxLineBytes })
    for (const frame of deframer.push(buffer.subarray(0, bytesRead))) {
      if (!frame.ok || frame.bytes[0] !== 0x23) break
      file.tracker.classify(frame.bytes)
    }
  }

  const report = (path: string, err: unknown, message: string) => {
    const text = err instanceof Error ? err.message : String(err)
    if (problems.get(path) === text) return
    problems.set(path, text)
    log.warn({ err, path }, message)
  }

  /** The `*.log` files in the directory by inode, with their name and size; null when the directory cannot be read. */
  const listDir = async (): Promise<Map<string, { path: string; size: number }> | null> => {
    const found = new Map<string, { path: string; size: number }>()
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (err) {
      report(dir, err, 'cannot read the zeek log directory')
      return null
    }
    problems.delete(dir)
    for (const name of names) {
      if (!LIVE_NAME.test(name)) continue
      const path = join(dir, name)
      try {
        const s = await stat(path, { bigint: true })
        if (s.isFile()) found.set(String(s.ino), { path, size: Number(s.size) })
      } catch {
        // gone between readdir and stat: the next look sees where it went
      }
    }
    return found
  }

  const discover = async () => {
    const files = await listDir()
    // Nothing is known about the files then: keep reading the open ones, decide about the rest later.
    if (files === null) return
    // Files from the state file, once: resume where the last run's flushed lines end.
    if (saved !== null) {
      for (const entry of saved.files) {
        const found = files.get(entry.ino)
        if (tailed.has(entry.ino)) continue
        if (found === undefined) {
          log.warn({ path: entry.path, ino: entry.ino, offset: entry.offset }, 'zeek log from the state file is gone; lines after the saved offset, if any, are lost')
          continue
        }
        // Bigger than the file: the inode now belongs to another file.
        const offset = entry.offset <= found.size ? entry.offset : 0
        await newFile(entry.path, found.path, entry.ino, offset, found.path !== entry.path)
      }
      saved = null
    }
    for (const file of tailed.values()) {
      const now = files.get(file.ino)
      if (now !== undefined) file.current = now.path
      if (!file.rotated && (now === undefined || now.path !== file.path)) {
        file.rotated = true
        log.info({ path: file.path, now: now?.path ?? '(deleted)' }, 'zeek log rotated; reading the old file to its end')
      }
      if (now !== undefined && now.size < file.position && !file.rotated) {
        log.warn({ path: file.path, size: now.size, position: file.position }, 'zeek log truncated; reading it again from the start')
        file.position = 0
        file.deframer = createLineDeframer({ maxLineBytes })
        file.tracker = createZeekHeaderTracker({ defaultLog: logTypeOf(file.path) })
      }
    }
    for (const [ino, path] of done) if (files.get(ino)?.path !== path) done.delete(ino)
    for (const [ino, { path }] of files) {
      if (tailed.has(ino) || done.get(ino) === path || ROTATED_NAME.test(basename(path))) continue
      await newFile(path, path, ino, 0, false)
    }
  }

  const readFileToEnd = async (file: TailedFile) => {
    const source = { transport: 'file' as const, peer: file.current, host }
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunkBytes)
      let bytesRead: number
      try {
        ({ bytesRead } = await file.handle.read(buffer, 0, chunkBytes, file.position))
      } catch (err) {
        report(file.current, err, 'cannot read zeek log')
        return
      }
      if (bytesRead === 0) break
      file.position += bytesRead
      readSinceCheckpoint += bytesRead
      const receivedAt = Date.now()
      for (const frame of file.deframer.push(buffer.subarray(0, bytesRead))) await sendZeekFrame(frame, file.tracker, sink, source, receivedAt)
      if (readSinceCheckpoint >= checkpointBytes) await checkpoint()
    }
    problems.delete(file.current)
    if (file.rotated) {
      // Zeek closed it before renaming it: its last line is complete even without a newline.
      for (const frame of file.deframer.end()) await sendZeekFrame(frame, file.tracker, sink, source, Date.now())
      tailed.delete(file.ino)
      done.set(file.ino, file.current)
      await file.handle.close().catch(() => {})
      log.info({ path: file.current, bytes: file.position }, 'finished rotated zeek log')
    }
  }

  const checkpoint = async () => {
    readSinceCheckpoint = 0
    // Offsets first, then flush: every line before these offsets was accepted before the flush began.
    const state: TailerState = {
      version: 1,
      files: [...tailed.values()].map((f) => ({ path: f.path, ino: f.ino, offset: f.position - f.deframer.pending() })),
      done: [...done].map(([ino, path]) => ({ path, ino })),
    }
    await sink.flush()
    const text = JSON.stringify(state)
    if (text === lastWritten) return
    await writeState(stateFile, text)
    lastWritten = text
  }

  const cycle = async () => {
    await discover()
    // Old files first: a rotated file's lines come before those of the new file under its name.
    const files = [...tailed.values()].sort((a, b) => Number(b.rotated) - Number(a.rotated))
    for (const file of files) await readFileToEnd(file)
    await checkpoint()
  }

  let running: Promise<void> = Promise.resolve()
  const runCycle = () => {
    running = running.then(cycle).catch((err) => log.error({ err, dir }, 'zeek dir tailer: cycle failed'))
    return running
  }

  let closing = false
  let changed = false // fs.watch reported something since the last cycle began
  let wake: (() => void) | null = null
  let watcher: FSWatcher | null = null
  let loop: Promise<void> = Promise.resolve()
  if (pollMs !== null) {
    try {
      watcher = watch(dir, { persistent: false }, () => {
        changed = true
        wake?.()
      })
      watcher.on('error', (err) => log.warn({ err, dir }, 'fs.watch failed; looking for changes every pollMs only'))
    } catch (err) {
      log.warn({ err, dir }, 'fs.watch unavailable; looking for changes every pollMs only')
    }
    loop = (async () => {
      while (!closing) {
        const started = Date.now()
        changed = false
        await runCycle()
        if (closing) break
        if (!changed) await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs)
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        wake = null
        const gap = MIN_CYCLE_GAP_MS - (Date.now() - started)
        if (gap > 0 && !closing) await new Promise((r) => setTimeout(r, gap))
      }
    })()
  }
  log.info({ dir, stateFile, pollMs }, 'zeek dir tailer started')

  return {
    poll: runCycle,
    async close() {
      closing = true
      watcher?.close()
      wake?.()
      await loop
      await running
      await checkpoint().catch((err) => log.error({ err, dir }, 'zeek dir tailer: last checkpoint failed'))
      await Promise.all([...tailed.values()].map((f) => f.handle.close().catch(() => {})))
      tailed.clear()
    },
  }
}

/** conn.log, conn.2024-01-01-00-00-00.log → conn */
function logTypeOf(path: string): string {
  return basename(path).split('.')[0]!
}

async function loadState(path: string, log: Logger): Promise<TailerState | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const state = JSON.parse(text) as Partial<TailerState>
  if (state.version !== 1 || !Array.isArray(state.files)) throw new Error(`${path}: not a zeek tailer state file`)
  log.info({ stateFile: path, files: state.files.length }, 'zeek dir tailer: resuming from the state file')
  return { version: 1, files: state.files, done: Array.isArray(state.done) ? state.done : [] }
}

// Written aside, then renamed over: a crash leaves the old state or the new, never half of one.
async function writeState(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, path)
}
