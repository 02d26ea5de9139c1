import { isIP } from 'node:net'
import type { EventOutcome, ParsedFields } from '../ecs-event.ts'
import { parsePamKv } from './pam-kv.ts'

/** What the sshd parser fills in; the caller adds @timestamp, message, kind, module, original, host and process. */
export type SshdFields = Pick<ParsedFields, 'source' | 'destination' | 'user' | 'ssh'> & {
  event: Pick<ParsedFields['event'], 'category' | 'type' | 'action' | 'outcome'>
}

/**
 * One message shape. Named groups in `pattern` fill the event: `user`, `ip` (an address, or a name
 * when sshd was configured to log names), `port`, `domain`, `rhost` (IP or name), `dip`, `dport`,
 * `method`, `invalid` (present: the user does not exist), `attempts`, and `kv` (PAM's `key=value` list).
 */
interface SshdRule {
  action: string
  /** first words of the messages this rule can match; the cheap pre-check before the regex */
  first: readonly string[]
  pattern: RegExp
  category: readonly string[]
  type: readonly string[]
  outcome: EventOutcome
  ssh?: { invalid_user?: boolean }
}

// Loose on purpose: the value is then classified with isIP, and a name goes to source.domain.
const HOST = String.raw`\S+`
const PORT = String.raw`\d{1,5}`
// Usernames are attacker-chosen and may contain spaces, so they are matched greedily up to the
// fixed text sshd writes after them; the address is the last ` from ` in the line, which a
// username cannot fake.
const USER = '.*'
// Where the port after the address is optional, a greedy user would swallow `ADDR port`; matched
// lazily and anchored at the end, the address is still the word before the final ` port N`.
const USER_BEFORE_ADDR = '.*?'

const AUTH = ['authentication']
const SESSION = ['session']
const NETWORK = ['network']
const PROCESS = ['process']

/** The known sshd message shapes, tried in order within the rules sharing a first word. */
const rules: readonly SshdRule[] = [
  // Authentication
  {
    action: 'ssh_login_succeeded', first: ['Accepted'], category: AUTH, type: ['start'], outcome: 'success',
    pattern: re(`^Accepted (?<method>\\S+) for (?<user>${USER}) from (?<ip>${HOST}) port (?<port>${PORT})(?: ssh2)?(?:: .*)?$`),
  },
  {
    action: 'ssh_login_failed', first: ['Failed'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: re(`^Failed (?<method>\\S+) for (?<invalid>(?:invalid|illegal) user )?(?<user>${USER}) from (?<ip>${HOST}) port (?<port>${PORT})(?: ssh2)?(?:: .*)?$`),
  },
  {
    action: 'ssh_invalid_user', first: ['Invalid', 'Illegal'], category: AUTH, type: ['info'], outcome: 'failure', ssh: { invalid_user: true },
    pattern: re(`^(?:Invalid|Illegal) user (?<user>${USER}) from (?<ip>${HOST})(?: port (?<port>${PORT}))?$`),
  },
  {
    action: 'ssh_invalid_user_request', first: ['input_userauth_request:'], category: AUTH, type: ['info'], outcome: 'failure', ssh: { invalid_user: true },
    pattern: re(`^input_userauth_request: (?:invalid|illegal) user (?<user>${USER})$`),
  },
  {
    // sshd takes a user AllowUsers or DenyUsers turns away for one it does not know: its verdicts say "invalid user".
    action: 'ssh_user_not_allowed', first: ['User'], category: AUTH, type: ['info'], outcome: 'failure', ssh: { invalid_user: true },
    pattern: re(`^User (?<user>${USER}) from (?<rhost>${HOST}) not allowed because .*$`),
  },
  {
    action: 'ssh_max_auth_attempts', first: ['error:'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: re(`^error: maximum authentication attempts exceeded for (?<invalid>invalid user )?(?<user>${USER}) from (?<ip>${HOST}) port (?<port>${PORT})(?: ssh2)?$`),
  },
  {
    action: 'ssh_too_many_auth_failures', first: ['Disconnecting:'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: re(`^Disconnecting: Too many authentication failures(?: for (?<invalid>invalid user )?(?<user>${USER}))?$`),
  },
  {
    action: 'ssh_too_many_auth_failures', first: ['Disconnecting'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: re(`^Disconnecting (?:authenticating|(?<invalid>invalid)) user (?<user>${USER}) (?<ip>${HOST}) port (?<port>${PORT}): Too many authentication failures$`),
  },
  // PAM (pam_unix inside sshd; `authentication failure; ...` alone is the old `sshd(pam_unix)` tag)
  {
    action: 'ssh_pam_auth_failure', first: ['pam_unix(sshd:auth):', 'authentication'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^(?:pam_unix\(sshd:auth\): )?authentication failure; (?<kv>.*)$/,
  },
  {
    action: 'ssh_pam_auth_failure', first: ['PAM:', 'error:'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: re(`^(?:error: )?PAM: Authentication failure for (?<invalid>(?:invalid|illegal) user )?(?<user>${USER}) from (?<rhost>${HOST})$`),
  },
  {
    action: 'ssh_pam_check_pass', first: ['pam_unix(sshd:auth):', 'check'], category: AUTH, type: ['info'], outcome: 'failure', ssh: { invalid_user: true },
    pattern: /^(?:pam_unix\(sshd:auth\): )?check pass; user unknown$/,
  },
  {
    action: 'ssh_pam_more_auth_failures', first: ['PAM'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^PAM (?<attempts>\d+) more authentication failures?; (?<kv>.*)$/,
  },
  {
    action: 'ssh_pam_max_retries', first: ['PAM'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^PAM service\([^)]*\) ignoring max retries; (?<attempts>\d+) > \d+$/,
  },
  // Sessions
  {
    action: 'ssh_session_opened', first: ['pam_unix(sshd:session):', 'session'], category: SESSION, type: ['start'], outcome: 'success',
    pattern: /^(?:pam_unix\(sshd:session\): )?session opened for user (?<user>\S+?)(?:\(uid=\d+\))?(?: by \S*)?$/,
  },
  {
    action: 'ssh_session_closed', first: ['pam_unix(sshd:session):', 'session'], category: SESSION, type: ['end'], outcome: 'success',
    pattern: /^(?:pam_unix\(sshd:session\): )?session closed for user (?<user>\S+)$/,
  },
  // Reverse DNS checks
  {
    action: 'ssh_reverse_mapping_failed', first: ['reverse'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^reverse mapping checking getaddrinfo for (?<domain>\\S+) \\[(?<ip>[^\\]\\s]+)\\] failed(?: - POSSIBLE BREAK-IN ATTEMPT!|\\.)?$`),
  },
  {
    action: 'ssh_reverse_mapping_failed', first: ['Address'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^Address (?<ip>${HOST}) maps to (?<domain>[^\\s,]+), but this does not map back to the address(?: - POSSIBLE BREAK-IN ATTEMPT!|\\.)?$`),
  },
  // Connections
  {
    action: 'ssh_connection_opened', first: ['Connection'], category: NETWORK, type: ['start'], outcome: 'success',
    pattern: re(`^Connection from (?<ip>${HOST}) port (?<port>${PORT})(?: on (?<dip>${HOST}) port (?<dport>${PORT}))?(?: rdomain .*)?$`),
  },
  {
    action: 'ssh_disconnect', first: ['Received', 'error:'], category: NETWORK, type: ['end'], outcome: 'unknown',
    pattern: re(`^(?:error: )?Received disconnect from (?<ip>${HOST})(?: port (?<port>${PORT}))?: ?\\d+: .*$`),
  },
  {
    action: 'ssh_disconnected', first: ['Disconnected'], category: NETWORK, type: ['end'], outcome: 'unknown',
    pattern: re(`^Disconnected from (?:(?:authenticating |(?<invalid>invalid) )?user (?<user>${USER_BEFORE_ADDR}) )?(?<ip>${HOST}) port (?<port>${PORT})$`),
  },
  {
    action: 'ssh_connection_closed', first: ['Connection'], category: NETWORK, type: ['end'], outcome: 'unknown',
    pattern: re(`^Connection closed by (?:(?:authenticating |(?<invalid>invalid) )?user (?<user>${USER_BEFORE_ADDR}) )?(?<ip>${HOST})(?: port (?<port>${PORT}))?$`),
  },
  {
    action: 'ssh_connection_reset', first: ['Connection'], category: NETWORK, type: ['end'], outcome: 'failure',
    pattern: re(`^Connection reset by (?:(?:authenticating |(?<invalid>invalid) )?user (?<user>${USER_BEFORE_ADDR}) )?(?<ip>${HOST})(?: port (?<port>${PORT}))?$`),
  },
  {
    action: 'ssh_connection_reset', first: ['fatal:'], category: NETWORK, type: ['end'], outcome: 'failure',
    pattern: /^fatal: (?:Read from socket failed|Write failed): Connection reset by peer$/,
  },
  {
    action: 'ssh_no_identification', first: ['Did'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^Did not receive identification string from (?<ip>${HOST})(?: port (?<port>${PORT}))?$`),
  },
  {
    action: 'ssh_bad_protocol_version', first: ['Bad'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^Bad protocol version identification '.*' from (?<ip>${HOST})(?: port (?<port>${PORT}))?$`),
  },
  {
    action: 'ssh_bad_protocol_version', first: ['banner'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^banner exchange: Connection from (?<ip>${HOST}) port (?<port>${PORT}): .*$`),
  },
  {
    action: 'ssh_kex_failed', first: ['error:', 'kex_exchange_identification:'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: /^(?:error: )?kex_exchange_identification: .*$/,
  },
  {
    action: 'ssh_negotiation_failed', first: ['Unable', 'fatal:'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^(?:fatal: )?Unable to negotiate with (?<ip>${HOST}) port (?<port>${PORT}): .*$`),
  },
  // sshd knows some scanners by their version string (SSH_Version_Mapper, "scanned"; a probe, "probed") and drops them after the banner.
  {
    action: 'ssh_version_scan', first: ['scanned', 'probed'], category: NETWORK, type: ['info'], outcome: 'failure',
    pattern: re(`^(?:scanned|probed) from (?<ip>${HOST})(?: port (?<port>${PORT}))? with .*\\.  Don't panic\\.$`),
  },
  // LoginGraceTime ran out: the client connected and did not finish authenticating.
  {
    action: 'ssh_auth_timeout', first: ['fatal:', 'Timeout'], category: NETWORK, type: ['end'], outcome: 'failure',
    pattern: re(`^(?:fatal: )?Timeout before authentication for (?<ip>${HOST})(?: port (?<port>${PORT}))?$`),
  },
  // The daemon itself
  {
    action: 'ssh_server_listening', first: ['Server'], category: PROCESS, type: ['start'], outcome: 'success',
    pattern: re(`^Server listening on (?<dip>${HOST}) port (?<dport>${PORT})\\.?$`),
  },
  {
    action: 'ssh_server_terminating', first: ['Received'], category: PROCESS, type: ['end'], outcome: 'success',
    pattern: /^Received signal \d+; terminating\.?$/,
  },
]

const rulesByFirstWord = new Map<string, SshdRule[]>()
for (const rule of rules) {
  for (const word of rule.first) {
    const bucket = rulesByFirstWord.get(word) ?? []
    bucket.push(rule)
    rulesByFirstWord.set(word, bucket)
  }
}

// sshd messages are short (it truncates names to 100 characters); a longer one is not a shape we
// know, and the cap keeps the backtracking of the greedy user groups bounded.
const MAX_MESSAGE_CHARS = 2048
const PREAUTH = ' [preauth]'
const REPEATED = /^message repeated (?<count>\d+) times: \[ ?(?<inner>.*)\]$/

/**
 * Reads the MSG part of an sshd line (after `sshd[pid]: `) into ECS fields, or returns null for a
 * message shape it does not know (the caller then makes a generic event). rsyslog's `message
 * repeated N times: [ ... ]` is read as the repeated message, with `ssh.repeated` = N.
 */
export function parseSshd(message: string): SshdFields | null {
  if (message.length > MAX_MESSAGE_CHARS) return null
  const repeated = message.startsWith('message repeated ') ? REPEATED.exec(message) : null
  if (repeated !== null) {
    const fields = parseSshd(repeated.groups!.inner!)
    if (fields !== null) fields.ssh = { ...fields.ssh, repeated: Number(repeated.groups!.count) }
    return fields
  }

  let body = trimEndSpaces(message)
  if (body.endsWith(PREAUTH)) body = body.slice(0, -PREAUTH.length)
  const space = body.indexOf(' ')
  const bucket = rulesByFirstWord.get(space === -1 ? body : body.slice(0, space))
  if (bucket === undefined) return null
  for (const rule of bucket) {
    const m = rule.pattern.exec(body)
    if (m !== null) return toFields(rule, m.groups ?? {})
  }
  return null
}

function toFields(rule: SshdRule, g: Record<string, string | undefined>): SshdFields {
  const fields: SshdFields = {
    event: { category: [...rule.category], type: [...rule.type], action: rule.action, outcome: rule.outcome },
  }
  let rhost = g.rhost
  let user = g.user
  if (g.kv !== undefined) {
    const kv = parsePamKv(g.kv)
    rhost = kv.rhost
    user = kv.user
  }

  const source: NonNullable<SshdFields['source']> = {}
  for (const host of [g.ip, rhost]) {
    if (host === undefined || host === '') continue
    if (isIP(host) !== 0) source.ip = host
    else source.domain = host
  }
  if (g.domain !== undefined) source.domain = g.domain
  if (g.port !== undefined) source.port = Number(g.port)
  if (Object.keys(source).length > 0) fields.source = source

  if (g.dip !== undefined) fields.destination = { ip: g.dip, ...(g.dport !== undefined && { port: Number(g.dport) }) }
  if (user !== undefined && user !== '') fields.user = { name: user }

  const ssh: NonNullable<SshdFields['ssh']> = { ...rule.ssh }
  if (g.method !== undefined) ssh.method = g.method
  if (g.invalid !== undefined) ssh.invalid_user = true
  if (g.attempts !== undefined) ssh.attempts = Number(g.attempts)
  if (Object.keys(ssh).length > 0) fields.ssh = ssh
  return fields
}

// Not a regex: / +$/ backtracks quadratically on a long run of spaces followed by other text.
function trimEndSpaces(s: string): string {
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === 0x20) end--
  return end === s.length ? s : s.slice(0, end)
}

function re(source: string): RegExp {
  return new RegExp(source)
}
