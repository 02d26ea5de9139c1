import { createHash } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, stat, writeFile, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Logger } from '@vigil/platform'
import type { Frame } from '@vigil/syslog'
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

/**
 * The state file: per tailed file, the position up to which its lines have reached Kafka. A file is
 * known by its inode and its fingerprint together: a freed inode is soon given to a new file (ext4
 * does so at once), and only the fingerprint tells the new file from the one the position was saved for.
 * Entries without a fingerprint were written before it existed; see `isSavedFile` and the `done` checks.
 */
interface TailerState {
  version: 1
  /** `path` is the name the file is tailed under (conn.log), also while it is being finished under a rotated name */
  files: Array<{ path: string; ino: string; offset: number; fingerprint?: Fingerprint }>
  /** rotated files read to their end, or left unread, that are still in the directory, so they are not taken for new ones */
  done: Array<{ path: string; ino: string; fingerprint?: Fingerprint }>
  /**
   * When the directory was last listed before this checkpoint (ms since the epoch): see `lookedAt` in
   * startZeekDirTailer. Missing in state files written before it: the state file's own time stands in.
   */
  lookedAt?: number
}

/**
 * The SHA-256 of a file's first `bytes` bytes: FINGERPRINT_BYTES, or all it had when it was shorter.
 * Zeek files begin with a header that carries the `#open` time, JSON-lines files with their first
 * record, so two files rarely share one; and a file only grows, so a shorter prefix still matches later.
 */
interface Fingerprint {
  bytes: number
  sha256: string
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
  /** false once no name in the directory leads to it (deleted): then it is read through the handle only */
  inDirectory: boolean
  /** of its first bytes, up to those read so far; null until a checkpoint takes it */
  fingerprint: Fingerprint | null
  /**
   * Frames read but not yet handed to the sink (one failed: the next cycle starts with it), and the
   * offset of the line the first one starts at, where a checkpoint stops until they are all handed over.
   */
  unsent: { frames: Frame[]; next: number; from: number; receivedAt: number } | null
}

/** A rotated file read to its end, by inode. */
interface FinishedFile {
  /** where it lies */
  path: string
  /** null for an entry from a state file written before fingerprints */
  fingerprint: Fingerprint | null
}

// Zeek rotates conn.log to conn.2024-01-01-00-00-00.log: a `.log` name with a dot-digit part is an
// old file, read to finish one we were tailing when it was renamed, or one rotated before we saw it.
const ROTATED_NAME = /^[^.]+\.\d.*\.log$/
const LIVE_NAME = /^[^.].*\.log$/
const HEADER_SCAN_BYTES = 1024 * 1024
// Covers a Zeek TSV header (#open included) and usually a first data line, or a first JSON record.
const FINGERPRINT_BYTES = 1024
const MIN_CYCLE_GAP_MS = 100
// File times come from the kernel's coarse clock, which may be a tick behind Date.now(): a file written
// just after a look may seem written just before it.
const MTIME_SLACK_MS = 1_000

/**
 * Tails every `*.log` file of a Zeek log directory, sending complete lines through the sink with
 * the file's Zeek context (log type from the `#path` header or the file name, TSV headers tracked
 * per file). New lines are noticed through fs.watch, with a periodic look as the fallback. Rotation
 * by rename (or deletion) is noticed by the name's inode changing: the old file is read to its end
 * before the new one is started; a file that shrank was truncated and is read again from its start.
 * A partial last line waits for its newline. Positions are saved to `stateFile` only after the sink
 * has flushed every line before them, so a crash re-sends lines but never skips any. A saved position
 * is resumed only in the file it was saved for (same inode and fingerprint); another file found under
 * that inode is read from its start. A file under a rotated name that the tailer never saw is read
 * from its start when it was written since the last look (rotated while the ingestor was down, or
 * between two looks); one last written before it (an archive, or on a first start, history) is logged
 * and left unread.
 */
export async function startZeekDirTailer(options: ZeekDirTailerOptions): Promise<ZeekDirTailer> {
  const { dir, stateFile, sink, log, maxLineBytes, host, pollMs = 1_000, chunkBytes = 256 * 1024, checkpointBytes = 8 * 1024 * 1024 } = options
  const tailed = new Map<string, TailedFile>() // by inode
  let saved = await loadState(stateFile, log)
  const done = new Map<string, FinishedFile>((saved?.done ?? []).map((d) => [d.ino, { path: d.path, fingerprint: d.fingerprint ?? null }]))
  // When the directory was last listed. A file under a rotated name not seen then but written since was a
  // live file rotated before a look found it, so its lines were never read; one written before was not
  // rotated from a live file we missed. Null on a first start (no state file): rotated files are history.
  let lookedAt: number | null = saved?.lookedAt ?? null
  let lastWritten = ''
  let readSinceCheckpoint = 0
  const problems = new Map<string, string>() // path → last error logged, so a lasting problem is logged once

  const openLog = async (path: string): Promise<FileHandle | null> => {
    try {
      return await open(path, 'r')
    } catch (err) {
      report(path, err, 'cannot open zeek log')
      return null
    }
  }

  const track = async (handle: FileHandle, where: Pick<TailedFile, 'path' | 'current' | 'ino' | 'position' | 'rotated' | 'fingerprint'>) => {
    const file: TailedFile = {
      ...where, handle, inDirectory: true, unsent: null,
      deframer: createLineDeframer({ maxLineBytes }),
      tracker: createZeekHeaderTracker({ defaultLog: logTypeOf(where.path) }),
    }
    if (file.position > 0) await replayHeaders(file)
    tailed.set(file.ino, file)
    log.info({ path: file.current, offset: file.position, rotated: file.rotated }, 'tailing zeek log')
  }

  const startNewFile = async (path: string, ino: string, rotated = false) => {
    const handle = await openLog(path)
    if (handle !== null) await track(handle, { path, current: path, ino, position: 0, rotated, fingerprint: null })
  }

  /** Decides about a file under a rotated name that the tailer has never seen: read it, or log why not and remember it as done. */
  const startUnseenRotated = async (found: { path: string; ino: string; mtimeMs: number }) => {
    if (lookedAt !== null && found.mtimeMs >= lookedAt - MTIME_SLACK_MS) {
      log.info({ path: found.path }, 'zeek log under a rotated name was written since the last look, so it was rotated before the tailer saw it: reading it from its start')
      return startNewFile(found.path, found.ino, true)
    }
    const why = lookedAt === null
      ? 'on a first start (no state file) a rotated zeek log is history: not read'
      : 'a zeek log under a rotated name the tailer never saw was last written before its last look (an archive, or a file moved in): not read'
    log.warn({ path: found.path, modifiedAt: new Date(found.mtimeMs).toISOString(), lastLook: lookedAt === null ? null : new Date(lookedAt).toISOString() }, why)
    let fingerprint: Fingerprint | null = null
    const handle = await open(found.path, 'r').catch(() => null)
    if (handle !== null) fingerprint = await takeFingerprint(handle, FINGERPRINT_BYTES).catch(() => null).finally(() => handle.close().catch(() => {}))
    done.set(found.ino, { path: found.path, fingerprint })
  }

  /** Resumes a file from the state file at its saved offset, if the file now under its inode is that file. */
  const resume = async (entry: TailerState['files'][number], found: { path: string; size: number }) => {
    const handle = await openLog(found.path)
    if (handle === null) return
    const renamed = found.path !== entry.path
    // Zeek's rotation gives a rotated name; under any other *.log name the file may still be written to,
    // so it is tailed there as a live file and never finished (a finished file's later lines are never read).
    const underOtherLiveName = renamed && !ROTATED_NAME.test(basename(found.path))
    let same = false
    try {
      same = await isSavedFile(handle, entry, found.size, underOtherLiveName)
    } catch (err) {
      report(found.path, err, 'cannot read zeek log')
    }
    if (!same) {
      await handle.close().catch(() => {})
      // The loop over new files reads the file now under the inode from its start (under a rotated name, if written since the last look).
      log.warn({ path: entry.path, now: found.path, ino: entry.ino, offset: entry.offset }, 'another file now has the inode of a zeek log from the state file; that log is gone, and lines after the saved offset, if any, are lost')
      return
    }
    const fingerprint = entry.fingerprint ?? null
    // A file saved under a rotated name was one rotated before the tailer saw it, being finished.
    const rotated = renamed || ROTATED_NAME.test(basename(found.path))
    if (underOtherLiveName) await track(handle, { path: found.path, current: found.path, ino: entry.ino, position: entry.offset, rotated: false, fingerprint })
    else await track(handle, { path: entry.path, current: found.path, ino: entry.ino, position: entry.offset, rotated, fingerprint })
  }

  // Taken again while the file is shorter than FINGERPRINT_BYTES, so it always covers the bytes before the saved offset (up to that many).
  const refreshFingerprint = async (file: TailedFile) => {
    const bytes = Math.min(file.position, FINGERPRINT_BYTES)
    if (file.fingerprint !== null && file.fingerprint.bytes >= bytes) return
    try {
      file.fingerprint = await takeFingerprint(file.handle, bytes)
    } catch (err) {
      report(file.current, err, 'cannot read zeek log')
    }
  }

  /** Whether the finished file is still the one under its path, so it must not be taken for a new one. */
  const isStillFinished = async (finished: FinishedFile, now: { path: string } | undefined): Promise<boolean> => {
    if (now?.path !== finished.path) return false
    // A rotated name is never read anyway.
    if (ROTATED_NAME.test(basename(now.path))) return true
    // Under any other name, the inode alone does not say it is the same file: a new file may have been given
    // the inode of a deleted one. This costs a read of 1 KiB per cycle, for files finished under such names only.
    // An entry without a fingerprint (an older state file) is dropped, so its file is read again from its
    // start: such an entry may be the mistake of the inode-only matching (a live file finished in place of a
    // rotated one), and sending lines twice is better than never sending them.
    if (finished.fingerprint === null) return false
    const handle = await open(now.path, 'r').catch(() => null)
    if (handle === null) return false
    try {
      return await hasFingerprint(handle, finished.fingerprint)
    } catch {
      return false
    } finally {
      await handle.close().catch(() => {})
    }
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

  /**
   * The `*.log` files in the directory by inode, with their name, size and time of last write, and
   * whether a file went between readdir and stat (`raced`); null when the directory cannot be read.
   */
  const listDir = async (): Promise<(Map<string, { path: string; size: number; mtimeMs: number }> & { raced: boolean }) | null> => {
    const found = Object.assign(new Map<string, { path: string; size: number; mtimeMs: number }>(), { raced: false })
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
        if (s.isFile()) found.set(String(s.ino), { path, size: Number(s.size), mtimeMs: Number(s.mtimeMs) })
      } catch {
        // gone between readdir and stat: the next look sees where it went
        found.raced = true
      }
    }
    return found
  }

  const discover = async () => {
    const listedAt = Date.now()
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
        await resume(entry, found)
      }
      saved = null
    }
    for (const file of tailed.values()) {
      const now = files.get(file.ino)
      if (now !== undefined) file.current = now.path
      file.inDirectory = now !== undefined
      if (!file.rotated && (now === undefined || now.path !== file.path)) {
        file.rotated = true
        log.info({ path: file.path, now: now?.path ?? '(deleted)' }, 'zeek log rotated; reading the old file to its end')
      }
      if (now !== undefined && now.size < file.position && !file.rotated) {
        log.warn({ path: file.path, size: now.size, position: file.position }, 'zeek log truncated; reading it again from the start')
        file.position = 0
        if (file.unsent !== null) file.unsent.from = 0
        file.fingerprint = null
        file.deframer = createLineDeframer({ maxLineBytes })
        file.tracker = createZeekHeaderTracker({ defaultLog: logTypeOf(file.path) })
      }
    }
    for (const [ino, finished] of done) if (!(await isStillFinished(finished, files.get(ino)))) done.delete(ino)
    const unseenRotated: Array<{ path: string; ino: string; mtimeMs: number }> = []
    for (const [ino, { path, mtimeMs }] of files) {
      if (tailed.has(ino) || done.has(ino)) continue
      if (ROTATED_NAME.test(basename(path))) unseenRotated.push({ path, ino, mtimeMs })
      else await startNewFile(path, ino)
    }
    // Oldest first: their lines were written in that order.
    for (const found of unseenRotated.sort((a, b) => a.mtimeMs - b.mtimeMs)) await startUnseenRotated(found)
    // A rotated file left undecided (it could not be opened, or a saved one not resumed) is decided at
    // a later look by this look's time, as is one whose stat raced a rename: moving the time past it
    // would take it for an archive then, and it would never be read.
    const undecided = [...files].some(([ino, { path }]) => ROTATED_NAME.test(basename(path)) && !tailed.has(ino) && !done.has(ino))
    if (!undecided && !files.raced) lookedAt = listedAt
  }

  /** Hands the file's unsent frames to the sink, in order. One that fails stays first in `unsent`, and its error is thrown. */
  const sendUnsent = async (file: TailedFile) => {
    const unsent = file.unsent
    if (unsent === null) return
    const source = { transport: 'file' as const, peer: file.current, host }
    for (; unsent.next < unsent.frames.length; unsent.next++) await sendZeekFrame(unsent.frames[unsent.next]!, file.tracker, sink, source, unsent.receivedAt)
    file.unsent = null
  }

  /** Where the file's next line starts: a restart reads from here. */
  const lineStart = (file: TailedFile) => file.position - file.deframer.pending()

  const readFileToEnd = async (file: TailedFile) => {
    await sendUnsent(file)
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
      const from = lineStart(file)
      file.position += bytesRead
      readSinceCheckpoint += bytesRead
      file.unsent = { frames: file.deframer.push(buffer.subarray(0, bytesRead)), next: 0, from, receivedAt: Date.now() }
      await sendUnsent(file)
      if (readSinceCheckpoint >= checkpointBytes) await checkpoint()
    }
    problems.delete(file.current)
    if (file.rotated) {
      // Zeek closed it before renaming it: its last line is complete even without a newline.
      const from = lineStart(file)
      file.unsent = { frames: file.deframer.end(), next: 0, from, receivedAt: Date.now() }
      await sendUnsent(file)
      tailed.delete(file.ino)
      // A deleted file is left out: no name leads to it, and once the handle closes, its inode may go to a
      // new file under its old, live name, which must then be read.
      if (file.inDirectory) {
        await refreshFingerprint(file)
        done.set(file.ino, { path: file.current, fingerprint: file.fingerprint })
      }
      await file.handle.close().catch(() => {})
      log.info({ path: file.current, bytes: file.position }, 'finished rotated zeek log')
    }
  }

  const checkpoint = async () => {
    readSinceCheckpoint = 0
    for (const file of tailed.values()) await refreshFingerprint(file)
    // Offsets first, then flush: every line before these offsets was accepted before the flush began.
    const state: TailerState = {
      version: 1,
      files: [...tailed.values()].map((f) => ({ path: f.path, ino: f.ino, offset: f.unsent?.from ?? lineStart(f), fingerprint: f.fingerprint ?? undefined })),
      done: [...done].map(([ino, { path, fingerprint }]) => ({ path, ino, fingerprint: fingerprint ?? undefined })),
    }
    const looked = lookedAt ?? undefined
    await sink.flush()
    // Written only when a file's state changed: an older lookedAt on disk only reads more files after a restart.
    const text = JSON.stringify(state)
    if (text === lastWritten) return
    await writeState(stateFile, JSON.stringify({ ...state, lookedAt: looked }))
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

/**
 * Whether the file open in `handle` (of `size` bytes) is the one the state file entry was saved for: its
 * fingerprint matches, and the saved offset fits in it and starts a line (saved offsets always do).
 */
async function isSavedFile(handle: FileHandle, entry: TailerState['files'][number], size: number, underOtherLiveName: boolean): Promise<boolean> {
  if (entry.offset > size) return false
  if (entry.fingerprint !== undefined) {
    if (!(await hasFingerprint(handle, entry.fingerprint))) return false
  } else if (underOtherLiveName) {
    // An entry from a state file written before fingerprints. Under another live name nothing tells a
    // renamed file from a new one on a reused inode (the case that lost lines), so read it from its start.
    return false
  }
  // Without a fingerprint, under its own or a rotated name, the saved offset is kept (the behaviour before
  // fingerprints) when it starts a line: that is the usual restart after an upgrade, re-reading every file
  // from its start would send up to a rotation interval of each log twice, and the first checkpoint writes
  // fingerprints, so this trust is given once.
  return startsLine(handle, entry.offset)
}

async function takeFingerprint(handle: FileHandle, bytes: number): Promise<Fingerprint> {
  const buffer = Buffer.alloc(bytes)
  const { bytesRead } = bytes > 0 ? await handle.read(buffer, 0, bytes, 0) : { bytesRead: 0 }
  return { bytes: bytesRead, sha256: createHash('sha256').update(buffer.subarray(0, bytesRead)).digest('hex') }
}

async function hasFingerprint(handle: FileHandle, fingerprint: Fingerprint): Promise<boolean> {
  const now = await takeFingerprint(handle, fingerprint.bytes)
  return now.bytes === fingerprint.bytes && now.sha256 === fingerprint.sha256
}

async function startsLine(handle: FileHandle, offset: number): Promise<boolean> {
  if (offset === 0) return true
  const byte = Buffer.alloc(1)
  const { bytesRead } = await handle.read(byte, 0, 1, offset - 1)
  return bytesRead === 1 && byte[0] === 0x0a
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
  const lookedAt = typeof state.lookedAt === 'number' ? state.lookedAt : (await stat(path)).mtimeMs
  return { version: 1, files: state.files, done: Array.isArray(state.done) ? state.done : [], lookedAt }
}

// Written aside, then renamed over: a crash leaves the old state or the new, never half of one.
async function writeState(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, path)
}
