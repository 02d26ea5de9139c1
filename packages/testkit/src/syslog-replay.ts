import { connect } from 'node:net'

/** Facility auth (4), severity info (6): how sshd logs. */
export const AUTH_INFO_PRI = 4 * 8 + 6

/**
 * Turns a line of a log file into a syslog message: lines already carrying a PRI are sent as they
 * are; BSD-style lines (`Mmm dd hh:mm:ss host tag: msg`, as loghub stores them) get one prepended.
 */
export function toSyslog(line: string, pri = AUTH_INFO_PRI): string {
  return line.startsWith('<') ? line : `<${pri}>${line}`
}

/**
 * Sends `lines` over one TCP connection with newline framing (RFC 6587), as rsyslog forwards, and
 * resolves once the socket closed cleanly. `perSecond` paces the replay (0: as fast as possible).
 */
export async function replayOverTcp(host: string, port: number, lines: string[], perSecond = 0): Promise<number> {
  const socket = connect({ host, port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const started = Date.now()
  let sent = 0
  for (const line of lines) {
    if (!socket.write(`${toSyslog(line)}\n`)) await new Promise((r) => socket.once('drain', r))
    sent++
    if (perSecond > 0) {
      const due = started + (sent * 1000) / perSecond
      const wait = due - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.end(() => resolve())
  })
  return sent
}

/** Writes raw bytes (frames included) over one TCP connection. */
export async function sendTcpBytes(host: string, port: number, bytes: Buffer): Promise<void> {
  const socket = connect({ host, port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  // A reset from the listener is an error of this call, not an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.end(bytes, () => resolve())
  })
}
