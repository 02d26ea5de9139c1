import { isIP } from 'node:net'
import type { EventOutcome, ParsedFields } from '../ecs-event.ts'
import type { FamilyParser, ParserInput } from './family-parser.ts'
import { parsePamKv } from './pam-kv.ts'

/** What the privilege parser fills in; the caller adds @timestamp, message, host and the process name and pid. */
export type PrivilegeFields = Pick<ParsedFields, 'event' | 'source' | 'user' | 'process'>

/**
 * One message shape. Named groups fill the event: `actor` and `actorId` (who asked), `target` (the
 * account asked for), `kv` (PAM's `logname= uid= ... user=` list, which carries both and `rhost`).
 */
interface PrivilegeRule {
  action: string
  pattern: RegExp
  category: readonly string[]
  type: readonly string[]
  outcome: EventOutcome
}

/** A rule of a table looked up by the message's first word. */
interface WordRule extends PrivilegeRule {
  /** first words of the messages this rule can match, the cheap pre-check; '' marks a rule tried when no first word matches */
  first: readonly string[]
}

const AUTH = ['authentication']
const SESSION = ['session']
const PROCESS = ['process']
const IAM = ['iam']

// A PAM user name: pam_unix writes it bare, followed by `(uid=N)` in session messages.
const NAME = String.raw`[^\s(]+`

/** pam_unix and friends, after the `pam_unix(<service>:<type>): ` prefix (or alone, under an old `<program>(pam_unix)` tag). */
const pamRules: readonly WordRule[] = [
  {
    action: 'pam_auth_failure', first: ['authentication'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^authentication failure; (?<kv>.*)$/,
  },
  {
    action: 'pam_user_unknown', first: ['check'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^check pass; user unknown$/,
  },
  {
    action: 'pam_user_unknown', first: ['bad'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^bad username \[(?<target>[^\]]*)\]$/,
  },
  {
    action: 'pam_no_password', first: ['auth'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^auth could not identify password for \[(?<target>[^\]]*)\]$/,
  },
  {
    action: 'pam_conversation_failed', first: ['conversation'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^conversation failed$/,
  },
  {
    action: 'pam_session_opened', first: ['session'], category: SESSION, type: ['start'], outcome: 'success',
    pattern: re(`^session opened for user (?<target>${NAME})(?:\\(uid=\\d+\\))?(?: by (?<actor>[^\\s(]*)(?:\\(uid=(?<actorId>\\d+)\\))?)?$`),
  },
  {
    action: 'pam_session_closed', first: ['session'], category: SESSION, type: ['end'], outcome: 'success',
    pattern: re(`^session closed for user (?<target>${NAME})(?:\\(uid=\\d+\\))?$`),
  },
  {
    action: 'pam_account_expired', first: ['account'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^account (?<target>\S+) has expired \(account expired\)$/,
  },
  {
    action: 'pam_password_expired', first: ['expired'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^expired password for user (?<target>\S+) \(password aged\)$/,
  },
  {
    action: 'pam_password_changed', first: ['password'], category: IAM, type: ['change'], outcome: 'success',
    pattern: /^password changed for (?<target>\S+)$/,
  },
  // pam_faillock and pam_tally2
  {
    action: 'pam_account_locked', first: ['Consecutive'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^Consecutive login failures for user (?<target>\S+) account temporarily locked$/,
  },
  {
    action: 'pam_account_locked', first: ['user'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^user (?<target>\S+) \(\d+\) tally \d+, deny \d+$/,
  },
  // pam_succeed_if, e.g. `requirement "uid >= 1000" not met by user "root"`
  {
    action: 'pam_requirement_not_met', first: ['requirement'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^requirement "[^"]*" not met by user "(?<target>[^"]*)"$/,
  },
]

/** su itself: shadow-utils (`Successful su for`, `+ tty a:b`), util-linux (`(to root) a on tty`) and BSD (`BAD SU`). */
const suRules: readonly WordRule[] = [
  {
    action: 'su_succeeded', first: ['Successful'], category: AUTH, type: ['start'], outcome: 'success',
    pattern: /^Successful su for (?<target>\S+) by (?<actor>\S+)$/,
  },
  {
    action: 'su_failed', first: ['FAILED'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^FAILED su for (?<target>\S+) by (?<actor>\S+)$/,
  },
  {
    action: 'su_succeeded', first: ['+'], category: AUTH, type: ['start'], outcome: 'success',
    pattern: /^\+ \S+ (?<actor>[^\s:]+):(?<target>\S+)$/,
  },
  {
    action: 'su_failed', first: ['-'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^- \S+ (?<actor>[^\s:]+):(?<target>\S+)$/,
  },
  {
    action: 'su_succeeded', first: ['(to'], category: AUTH, type: ['start'], outcome: 'success',
    pattern: /^\(to (?<target>[^\s)]+)\) (?<actor>\S+) on \S+$/,
  },
  {
    action: 'su_failed', first: ['FAILED'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^FAILED SU \(to (?<target>[^\s)]+)\) (?<actor>\S+) on \S+$/,
  },
  {
    action: 'su_failed', first: ['BAD'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^BAD SU (?<actor>\S+) to (?<target>\S+)(?: on \S+)?$/,
  },
  {
    action: 'su_failed', first: ['pam_authenticate:'], category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^pam_authenticate: Authentication failure$/,
  },
  {
    action: 'su_succeeded', first: [''], category: AUTH, type: ['start'], outcome: 'success',
    pattern: /^(?<actor>\S+) to (?<target>\S+) on \S+$/,
  },
]

/** The reason sudo writes before `TTY=`; no reason means the command ran. */
const sudoReasons: readonly PrivilegeRule[] = [
  {
    action: 'sudo_auth_failure', category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^\d+ incorrect password attempts?$/,
  },
  {
    action: 'sudo_not_in_sudoers', category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^user NOT in sudoers$/,
  },
  {
    action: 'sudo_host_denied', category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^user NOT authorized on host$/,
  },
  {
    action: 'sudo_command_denied', category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^command not allowed$/,
  },
  {
    action: 'sudo_password_required', category: AUTH, type: ['info'], outcome: 'failure',
    pattern: /^a password is required$/,
  },
]

// A command that ran has no reason before TTY=, so nothing to match.
const SUDO_COMMAND: PrivilegeRule = {
  action: 'sudo_command', category: PROCESS, type: ['start'], outcome: 'success', pattern: /^$/,
}

const pamByFirstWord = byFirstWord(pamRules)
const suByFirstWord = byFirstWord(suRules)

// pam_<module>(<service>:<type>): the service is usually the program (sudo, su, cron, login).
const PAM_PREFIX = /^pam_[\w-]+\([^\s:()]*:[a-z]+\): /
const REPEATED = /^message repeated \d+ times: \[ ?(?<inner>.*)\]$/
const MAX_MESSAGE_CHARS = 8192

/**
 * Reads a sudo, su or PAM message (the syslog MSG, with the TAG as `appName`) into ECS fields, or
 * returns null for a shape it does not know. `user.name` is who acted (the caller of sudo or su,
 * PAM's ruser), `user.target.name` the account acted as or on (sudo's USER, PAM's user).
 * rsyslog's `message repeated N times: [ ... ]` is read as one repeated message.
 */
export function parsePrivilege(input: Pick<ParserInput, 'message' | 'appName'>): PrivilegeFields | null {
  const { message, appName } = input
  if (message.length > MAX_MESSAGE_CHARS) return null
  if (message.startsWith('message repeated ')) {
    const inner = REPEATED.exec(message)?.groups?.inner
    return inner === undefined || inner.startsWith('message repeated ') ? null : parsePrivilege({ message: inner, appName })
  }
  const body = trimSpaces(message)

  if (body.startsWith('pam_')) {
    const prefix = PAM_PREFIX.exec(body)
    if (prefix !== null) return matchRules(pamByFirstWord, body.slice(prefix[0].length), 'privilege.pam')
  }
  // Old pam_unix wrote under its own tag, `su(pam_unix)`, without the prefix.
  if (appName !== null && appName.includes('(pam_')) return matchRules(pamByFirstWord, body, 'privilege.pam')
  if (appName === 'sudo') return parseSudo(body)
  if (appName === 'su') return matchRules(suByFirstWord, body, 'privilege.su')
  return null
}

/** The registry entry: sudo and su lines, and PAM lines of any program but sshd (whose family reads its own). */
export const privilegeParser: FamilyParser = {
  family: 'privilege',
  claims: (input) => {
    const app = input.appName
    if (app === null) return input.zeek === null && input.message.startsWith('pam_')
    if (app === 'sudo' || app === 'su') return true
    if (app.startsWith('sshd')) return false
    return app.includes('(pam_') || input.message.startsWith('pam_')
  },
  parse: parsePrivilege,
}

/** `alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; [GROUP=.. ; ENV=.. ; ]COMMAND=/bin/ls -l` */
function parseSudo(body: string): PrivilegeFields | null {
  const colon = body.indexOf(' : ')
  if (colon <= 0) return null
  const actor = body.slice(0, colon)
  if (actor.includes(' ')) return null

  let reason: string | undefined
  let target: string | undefined
  let pwd: string | undefined
  let command: string | undefined
  let sawField = false
  let pos = colon + 3
  while (pos < body.length) {
    // COMMAND is last and is written as typed: it may itself contain ` ; `.
    if (body.startsWith('COMMAND=', pos)) {
      command = body.slice(pos + 'COMMAND='.length)
      sawField = true
      break
    }
    let end = body.indexOf(' ; ', pos)
    if (end === -1) end = body.length
    const eq = body.indexOf('=', pos)
    if (eq !== -1 && eq < end && isUpperWord(body, pos, eq)) {
      sawField = true
      const key = body.slice(pos, eq)
      if (key === 'USER') target = body.slice(eq + 1, end)
      else if (key === 'PWD') pwd = body.slice(eq + 1, end)
    } else if (pos === colon + 3) {
      reason = body.slice(pos, end)
    } else {
      return null
    }
    pos = end + 3
  }
  if (!sawField) return null

  let rule: PrivilegeRule | undefined
  if (reason === undefined) rule = command === undefined ? undefined : SUDO_COMMAND
  else rule = sudoReasons.find((r) => r.pattern.test(reason))
  if (rule === undefined) return null

  const fields = toFields(rule, { actor, target }, 'privilege.sudo')
  if (command !== undefined || pwd !== undefined) {
    fields.process = {
      ...(command !== undefined && { command_line: command }),
      ...(pwd !== undefined && { working_directory: pwd }),
    }
  }
  return fields
}

function matchRules(rules: ReadonlyMap<string, readonly WordRule[]>, body: string, dataset: string): PrivilegeFields | null {
  const space = body.indexOf(' ')
  const bucket = rules.get(space === -1 ? body : body.slice(0, space)) ?? rules.get('')
  if (bucket === undefined) return null
  for (const rule of bucket) {
    const m = rule.pattern.exec(body)
    if (m !== null) return toFields(rule, m.groups ?? {}, dataset)
  }
  return null
}

function toFields(rule: PrivilegeRule, g: Record<string, string | undefined>, dataset: string): PrivilegeFields {
  const fields: PrivilegeFields = {
    event: { category: [...rule.category], type: [...rule.type], action: rule.action, outcome: rule.outcome, dataset },
  }
  let { actorId, target } = g
  let actor = accountOf(g.actor)
  let rhost: string | undefined
  if (g.kv !== undefined) {
    const kv = parsePamKv(g.kv)
    actor = accountOf(kv.ruser || kv.logname)
    // uid is the calling process's: the actor's only when PAM names one.
    if (actor) actorId = kv.uid
    target = kv.user
    rhost = kv.rhost
  }
  const user: NonNullable<PrivilegeFields['user']> = {}
  if (actor) user.name = actor
  if (actorId) user.id = actorId
  if (target) user.target = { name: target }
  if (Object.keys(user).length > 0) fields.user = user
  if (rhost) fields.source = isIP(rhost) !== 0 ? { ip: rhost } : { domain: rhost }
  return fields
}

// getty records a terminal in utmp under the name LOGIN until someone has logged in on it, and PAM
// takes the caller's name (`by X`, logname=) from there (getlogin): a placeholder, not an account.
const LOGIN_PLACEHOLDER = 'LOGIN'

function accountOf(name: string | undefined): string | undefined {
  return name === LOGIN_PLACEHOLDER ? undefined : name
}

function byFirstWord(rules: readonly WordRule[]): Map<string, WordRule[]> {
  const map = new Map<string, WordRule[]>()
  for (const rule of rules) {
    for (const word of rule.first) {
      const bucket = map.get(word) ?? []
      bucket.push(rule)
      map.set(word, bucket)
    }
  }
  return map
}

function isUpperWord(s: string, from: number, to: number): boolean {
  if (to === from) return false
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x41 || c > 0x5a) return false
  }
  return true
}

// Not regexes: / +$/ backtracks quadratically on a long run of spaces followed by other text.
// sudo pads the user name with leading spaces; syslog senders leave trailing ones.
function trimSpaces(s: string): string {
  let start = 0
  let end = s.length
  while (start < end && s.charCodeAt(start) === 0x20) start++
  while (end > start && s.charCodeAt(end - 1) === 0x20) end--
  return start === 0 && end === s.length ? s : s.slice(start, end)
}

function re(source: string): RegExp {
  return new RegExp(source)
}
