/** The fields of PAM's `key=value` list that the parsers use; the others (euid, tty) are left out. */
export interface PamKv { logname?: string; uid?: string; ruser?: string; rhost?: string; user?: string }

/**
 * `logname= uid=500 euid=0 tty= ruser=alice rhost=  user=root` (pam_unix's authentication failure,
 * in sshd's and in su's or sudo's lines): the fields we use, empty values kept as ''.
 */
export function parsePamKv(kv: string): PamKv {
  const out: PamKv = {}
  let pos = 0
  // The next `=`, found once and reused by the words before it: a line of words without one stays linear.
  let eq = kv.indexOf('=')
  while (pos < kv.length) {
    let end = kv.indexOf(' ', pos)
    if (end === -1) end = kv.length
    if (eq !== -1 && eq < pos) eq = kv.indexOf('=', pos)
    if (eq > pos && eq < end) {
      const key = kv.slice(pos, eq)
      if (key === 'logname' || key === 'uid' || key === 'ruser' || key === 'rhost' || key === 'user') out[key] = kv.slice(eq + 1, end)
    }
    pos = end + 1
  }
  return out
}
