import type { RawLog, ZeekContext } from '@vigil/schemas'
import { decodeLine, hostOfPeer, parseSyslog } from '@vigil/syslog'

/** One frame or datagram as it arrived. */
export interface ReceivedInput {
  bytes: Buffer
  transport: 'syslog-udp' | 'syslog-tcp' | 'zeek-tcp' | 'file'
  /** sender, host:port; for a file, its path */
  peer: string
  receivedAt: number
  /** the sending host, when the peer does not name it (a file's lines come from this host) */
  host?: string
  /** set for Zeek output: its log type and TSV header; the line is then taken as it is, not as syslog */
  zeek?: ZeekContext
}

export type InputVerdict =
  | { ok: true; key: string; record: RawLog }
  | { ok: false; code: string; reason: string }

/**
 * Turns received bytes into a raw-logs record, or says why they cannot be one. The record is keyed
 * by the sending host (the syslog HOSTNAME, else the peer address) so one host's lines stay in order.
 */
export function handleInput(input: ReceivedInput): InputVerdict {
  const decoded = decodeLine(input.bytes)
  if (!decoded.ok) return { ok: false, code: decoded.code, reason: decoded.reason }
  if (input.zeek) {
    const { log, fields = null, types = null } = input.zeek
    return {
      ok: true,
      key: input.host ?? hostOfPeer(input.peer),
      record: { line: decoded.line, receivedAt: input.receivedAt, transport: input.transport, peer: input.peer, syslog: null, zeek: { log, fields, types } },
    }
  }
  const parsed = parseSyslog(decoded.line)
  if (!parsed.ok) return { ok: false, code: parsed.code, reason: parsed.reason }
  const header = parsed.header
  return {
    ok: true,
    key: header.hostname ?? hostOfPeer(input.peer),
    record: {
      line: decoded.line,
      receivedAt: input.receivedAt,
      transport: input.transport,
      peer: input.peer,
      syslog: {
        format: header.format,
        facility: header.facility,
        severity: header.severity,
        timestamp: header.timestamp,
        hostname: header.hostname,
        appName: header.appName,
        procId: header.procId,
        msgId: header.msgId,
        structuredData: header.structuredData,
        message: header.message,
      },
    },
  }
}
