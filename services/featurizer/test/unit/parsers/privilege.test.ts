import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseSyslog } from '@vigil/syslog'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { avroProblems, lineEdits, mutate } from './parser-fuzz.ts'
import type { ParserInput } from '../../../src/parsers/family-parser.ts'
import { parsePrivilege, privilegeParser, type PrivilegeFields } from '../../../src/parsers/privilege.ts'

const fixture = (path: string) => fileURLToPath(new URL(`../../../../../test/fixtures/${path}`, import.meta.url))

// The files hold syslog as written to disk, without <PRI>; a sender adds one (13: user.notice).
function inputsOf(path: string): ParserInput[] {
  const lines = readFileSync(fixture(path), 'utf8').split(/\r?\n/).filter((l) => l.length > 0)
  return lines.map((line) => {
    const parsed = parseSyslog(`<13>${line}`)
    if (!parsed.ok) throw new Error(`not syslog: ${line}`)
    return { message: parsed.header.message, appName: parsed.header.appName, line, zeek: null }
  })
}

const input = (appName: string | null, message: string): ParserInput => ({ message, appName, line: message, zeek: null })
const parse = (appName: string | null, message: string) => parsePrivilege({ appName, message })

function share(inputs: ParserInput[]) {
  const claimed = inputs.filter((i) => privilegeParser.claims(i))
  const unparsed = claimed.filter((i) => privilegeParser.parse(i) === null)
  const counts = new Map<string, number>()
  for (const i of claimed) {
    const action = privilegeParser.parse(i)?.event.action ?? '(unparsed)'
    counts.set(action, (counts.get(action) ?? 0) + 1)
  }
  return { claimed, unparsed, counts }
}

const rotations = (name: string) => ['6', '5', '4', '3', '2'].flatMap((n) => inputsOf(`sotm34-honeynet/syslog/${name}.${n}`))
const SESSION_OPENED = { category: ['session'], type: ['start'], action: 'pam_session_opened', outcome: 'success' as const, dataset: 'privilege.pam' }
const SESSION_CLOSED = { category: ['session'], type: ['end'], action: 'pam_session_closed', outcome: 'success' as const, dataset: 'privilege.pam' }
const AUTH_FAILED = { category: ['authentication'], type: ['info'], outcome: 'failure' as const }



describe('privilege parser on real logs', () => {
  it.each([
    ['loghub Linux_2k.log', () => inputsOf('loghub/Linux_2k.log'), 176],
    ['sotm34 messages.{6..2}', () => rotations('messages'), 72],
  ])('parses every line it claims in %s', (name, load, expectedClaimed) => {
    const inputs = load()
    const { claimed, unparsed, counts } = share(inputs)
    const table = [...counts].sort((a, b) => b[1] - a[1]).map(([action, n]) => `  ${action.padEnd(22)} ${String(n).padStart(5)}`)
    console.log(`privilege on ${name}: ${inputs.length} lines, ${claimed.length} claimed, ${claimed.length - unparsed.length} parsed (${((100 * (claimed.length - unparsed.length)) / claimed.length).toFixed(1)}%)\n${table.join('\n')}`)
    expect(claimed).toHaveLength(expectedClaimed)
    expect(unparsed.map((i) => i.line)).toEqual([])
    expect(claimed.flatMap((i) => avroProblems(privilegeParser.parse(i)!, i.line))).toEqual([])
  })

  it("leaves sshd's lines, PAM ones included, to the sshd family", () => {
    const inputs = [...rotations('secure'), ...inputsOf('loghub/Linux_2k.log')].filter((i) => i.appName?.startsWith('sshd'))
    expect(inputs.length).toBeGreaterThan(1500)
    expect(inputs.filter((i) => privilegeParser.claims(i))).toEqual([])
  })

  it.each<[string, string, PrivilegeFields]>([
    ['su(pam_unix)', 'session opened for user cyrus by (uid=0)', { event: SESSION_OPENED, user: { id: '0', target: { name: 'cyrus' } } }],
    ['su(pam_unix)', 'session closed for user news', { event: SESSION_CLOSED, user: { target: { name: 'news' } } }],
    // LOGIN is getty's placeholder in utmp, not an account: no one but the process (uid 0) acted.
    ['login(pam_unix)', 'session opened for user root by LOGIN(uid=0)', { event: SESSION_OPENED, user: { id: '0', target: { name: 'root' } } }],
    ['gdm(pam_unix)', 'check pass; user unknown', { event: { ...AUTH_FAILED, action: 'pam_user_unknown', dataset: 'privilege.pam' } }],
    ['gdm(pam_unix)', 'authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost= ', {
      event: { ...AUTH_FAILED, action: 'pam_auth_failure', dataset: 'privilege.pam' },
    }],
  ])('reads %s: %j', (appName, message, expected) => {
    const all = [...inputsOf('loghub/Linux_2k.log'), ...rotations('messages')]
    expect(all.some((i) => i.appName === appName && i.message === message)).toBe(true)
    expect(parse(appName, message)).toEqual(expected)
  })
})

describe('privilege parser on sudo, su and PAM shapes', () => {
  const SUDO = 'privilege.sudo'
  const SU = 'privilege.su'
  const PAM = 'privilege.pam'
  it.each<[string | null, string, PrivilegeFields]>([
    // sudo
    ['sudo', 'alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la /root', {
      event: { category: ['process'], type: ['start'], action: 'sudo_command', outcome: 'success', dataset: SUDO },
      user: { name: 'alice', target: { name: 'root' } }, process: { command_line: '/bin/ls -la /root', working_directory: '/home/alice' },
    }],
    // sudo pads the name; COMMAND is written as typed and may hold ` ; `; CVE-2019-14287 asks for user #-1.
    ['sudo', '    bob : TTY=pts/3 ; PWD=/tmp ; USER=#-1 ; ENV=LANG=C ; COMMAND=/bin/sh -c id ; echo done', {
      event: { category: ['process'], type: ['start'], action: 'sudo_command', outcome: 'success', dataset: SUDO },
      user: { name: 'bob', target: { name: '#-1' } }, process: { command_line: '/bin/sh -c id ; echo done', working_directory: '/tmp' },
    }],
    ['sudo', 'alice : TTY=unknown ; PWD=/ ; USER=postgres ; GROUP=postgres ; TSID=00000A ; COMMAND=/usr/bin/psql', {
      event: { category: ['process'], type: ['start'], action: 'sudo_command', outcome: 'success', dataset: SUDO },
      user: { name: 'alice', target: { name: 'postgres' } }, process: { command_line: '/usr/bin/psql', working_directory: '/' },
    }],
    ['sudo', 'alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash', {
      event: { ...AUTH_FAILED, action: 'sudo_auth_failure', dataset: SUDO },
      user: { name: 'alice', target: { name: 'root' } }, process: { command_line: '/bin/bash', working_directory: '/home/alice' },
    }],
    ['sudo', 'mallory : 1 incorrect password attempt ; TTY=pts/1 ; PWD=/home/mallory ; USER=root ; COMMAND=/usr/bin/passwd root', {
      event: { ...AUTH_FAILED, action: 'sudo_auth_failure', dataset: SUDO },
      user: { name: 'mallory', target: { name: 'root' } }, process: { command_line: '/usr/bin/passwd root', working_directory: '/home/mallory' },
    }],
    ['sudo', 'www-data : user NOT in sudoers ; TTY=pts/0 ; PWD=/var/www ; USER=root ; COMMAND=/bin/cat /etc/shadow', {
      event: { ...AUTH_FAILED, action: 'sudo_not_in_sudoers', dataset: SUDO },
      user: { name: 'www-data', target: { name: 'root' } }, process: { command_line: '/bin/cat /etc/shadow', working_directory: '/var/www' },
    }],
    ['sudo', 'alice : command not allowed ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/su -', {
      event: { ...AUTH_FAILED, action: 'sudo_command_denied', dataset: SUDO },
      user: { name: 'alice', target: { name: 'root' } }, process: { command_line: '/bin/su -', working_directory: '/home/alice' },
    }],
    ['sudo', 'deploy : a password is required ; TTY=unknown ; PWD=/srv ; USER=root ; COMMAND=/usr/bin/systemctl restart app', {
      event: { ...AUTH_FAILED, action: 'sudo_password_required', dataset: SUDO },
      user: { name: 'deploy', target: { name: 'root' } }, process: { command_line: '/usr/bin/systemctl restart app', working_directory: '/srv' },
    }],
    ['sudo', 'pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice', {
      event: { ...AUTH_FAILED, action: 'pam_auth_failure', dataset: PAM }, user: { name: 'alice', id: '1000', target: { name: 'alice' } },
    }],
    ['sudo', 'pam_unix(sudo:session): session opened for user root by alice(uid=0)', {
      event: SESSION_OPENED, user: { name: 'alice', id: '0', target: { name: 'root' } },
    }],
    ['sudo', 'pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)', {
      event: SESSION_OPENED, user: { name: 'alice', id: '1000', target: { name: 'root' } },
    }],
    ['sudo', 'pam_unix(sudo:session): session closed for user root', { event: SESSION_CLOSED, user: { target: { name: 'root' } } }],
    ['sudo', 'pam_unix(sudo:auth): conversation failed', { event: { ...AUTH_FAILED, action: 'pam_conversation_failed', dataset: PAM } }],
    ['sudo', 'pam_unix(sudo:auth): auth could not identify password for [alice]', {
      event: { ...AUTH_FAILED, action: 'pam_no_password', dataset: PAM }, user: { target: { name: 'alice' } },
    }],
    // su
    ['su', 'Successful su for root by alice', {
      event: { category: ['authentication'], type: ['start'], action: 'su_succeeded', outcome: 'success', dataset: SU }, user: { name: 'alice', target: { name: 'root' } },
    }],
    ['su', 'FAILED su for root by alice', { event: { ...AUTH_FAILED, action: 'su_failed', dataset: SU }, user: { name: 'alice', target: { name: 'root' } } }],
    ['su', '+ pts/0 alice:root', {
      event: { category: ['authentication'], type: ['start'], action: 'su_succeeded', outcome: 'success', dataset: SU }, user: { name: 'alice', target: { name: 'root' } },
    }],
    ['su', '- pts/0 alice:root', { event: { ...AUTH_FAILED, action: 'su_failed', dataset: SU }, user: { name: 'alice', target: { name: 'root' } } }],
    ['su', '(to root) alice on pts/0', {
      event: { category: ['authentication'], type: ['start'], action: 'su_succeeded', outcome: 'success', dataset: SU }, user: { name: 'alice', target: { name: 'root' } },
    }],
    ['su', 'FAILED SU (to root) alice on pts/0', { event: { ...AUTH_FAILED, action: 'su_failed', dataset: SU }, user: { name: 'alice', target: { name: 'root' } } }],
    ['su', 'BAD SU alice to root on /dev/ttyp0', { event: { ...AUTH_FAILED, action: 'su_failed', dataset: SU }, user: { name: 'alice', target: { name: 'root' } } }],
    ['su', 'alice to root on /dev/ttyp0', {
      event: { category: ['authentication'], type: ['start'], action: 'su_succeeded', outcome: 'success', dataset: SU }, user: { name: 'alice', target: { name: 'root' } },
    }],
    ['su', 'pam_authenticate: Authentication failure', { event: { ...AUTH_FAILED, action: 'su_failed', dataset: SU } }],
    ['su', 'pam_unix(su:auth): authentication failure; logname= uid=500 euid=0 tty= ruser=alice rhost=  user=root', {
      event: { ...AUTH_FAILED, action: 'pam_auth_failure', dataset: PAM }, user: { name: 'alice', id: '500', target: { name: 'root' } },
    }],
    ['su', 'pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)', {
      event: SESSION_OPENED, user: { name: 'alice', id: '1000', target: { name: 'root' } },
    }],
    // PAM of other programs
    ['CRON', 'pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)', { event: SESSION_OPENED, user: { id: '0', target: { name: 'root' } } }],
    ['login', 'pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=/dev/tty1 ruser= rhost=  user=admin', {
      event: { ...AUTH_FAILED, action: 'pam_auth_failure', dataset: PAM }, user: { target: { name: 'admin' } },
    }],
    ['vsftpd', 'pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=anonymous rhost=198.51.100.7 ', {
      event: { ...AUTH_FAILED, action: 'pam_auth_failure', dataset: PAM }, user: { name: 'anonymous', id: '0' }, source: { ip: '198.51.100.7' },
    }],
    ['dovecot', 'pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=bob rhost=mail.example.net  user=bob', {
      event: { ...AUTH_FAILED, action: 'pam_auth_failure', dataset: PAM }, user: { name: 'bob', id: '0', target: { name: 'bob' } }, source: { domain: 'mail.example.net' },
    }],
    ['login', 'pam_unix(login:auth): check pass; user unknown', { event: { ...AUTH_FAILED, action: 'pam_user_unknown', dataset: PAM } }],
    ['sudo', 'pam_faillock(sudo:auth): Consecutive login failures for user root account temporarily locked', {
      event: { ...AUTH_FAILED, action: 'pam_account_locked', dataset: PAM }, user: { target: { name: 'root' } },
    }],
    ['su', 'pam_tally2(su:auth): user root (0) tally 4, deny 3', { event: { ...AUTH_FAILED, action: 'pam_account_locked', dataset: PAM }, user: { target: { name: 'root' } } }],
    ['sudo', 'pam_succeed_if(sudo:auth): requirement "uid >= 1000" not met by user "root"', {
      event: { ...AUTH_FAILED, action: 'pam_requirement_not_met', dataset: PAM }, user: { target: { name: 'root' } },
    }],
    ['passwd', 'pam_unix(passwd:chauthtok): password changed for alice', {
      event: { category: ['iam'], type: ['change'], action: 'pam_password_changed', outcome: 'success', dataset: PAM }, user: { target: { name: 'alice' } },
    }],
    ['login', 'pam_unix(login:account): expired password for user carol (password aged)', {
      event: { ...AUTH_FAILED, action: 'pam_password_expired', dataset: PAM }, user: { target: { name: 'carol' } },
    }],
    ['su', 'pam_unix(su:account): account guest has expired (account expired)', {
      event: { ...AUTH_FAILED, action: 'pam_account_expired', dataset: PAM }, user: { target: { name: 'guest' } },
    }],
    [null, 'pam_unix(systemd-user:session): session closed for user gdm', { event: SESSION_CLOSED, user: { target: { name: 'gdm' } } }],
    ['su', 'message repeated 3 times: [ FAILED su for root by alice]', {
      event: { ...AUTH_FAILED, action: 'su_failed', dataset: SU }, user: { name: 'alice', target: { name: 'root' } },
    }],
  ])('reads %s: %j', (appName, message, expected) => {
    expect(parse(appName, message)).toEqual(expected)
  })

  it('claims sudo, su and PAM lines of any program but sshd', () => {
    expect(privilegeParser.claims(input('sudo', 'alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id'))).toBe(true)
    expect(privilegeParser.claims(input('su', 'anything'))).toBe(true)
    expect(privilegeParser.claims(input('CRON', 'pam_unix(cron:session): session closed for user root'))).toBe(true)
    expect(privilegeParser.claims(input('su(pam_unix)', 'session closed for user news'))).toBe(true)
    expect(privilegeParser.claims(input(null, 'pam_unix(login:auth): check pass; user unknown'))).toBe(true)
    expect(privilegeParser.claims(input('sshd', 'pam_unix(sshd:session): session closed for user root'))).toBe(false)
    expect(privilegeParser.claims(input('sshd(pam_unix)', 'session closed for user root'))).toBe(false)
    expect(privilegeParser.claims(input('CRON', '(root) CMD (run-parts /etc/cron.hourly)'))).toBe(false)
    expect(privilegeParser.claims(input(null, 'sudo: alice : TTY=pts/0'))).toBe(false)
    expect(privilegeParser.claims({ ...input(null, 'pam_unix(x:auth): y'), zeek: { log: 'conn', fields: null } })).toBe(false)
  })

  it('returns null for shapes it does not know', () => {
    for (const [appName, message] of [
      ['sudo', ''], ['sudo', 'alice : unable to resolve host web01'], ['sudo', 'alice : problem with defaults entries ; TTY=pts/0 ; PWD=/ ; USER=root'],
      ['sudo', 'alice : TTY=pts/0 ; PWD=/ ; USER=root'], ['sudo', 'a b : TTY=pts/0 ; COMMAND=/bin/id'], ['sudo', 'alice : (command continued) x'],
      ['su', 'random text'], ['CRON', 'pam_unix(cron:session): something new'], ['CRON', 'pam_unix(cron:session) session opened for user root'],
      ['su(pam_unix)', 'nonsense'], ['sudo', `alice : TTY=pts/0 ; COMMAND=${'x'.repeat(9000)}`], ['kernel', 'pam_unix'],
    ] as const) {
      expect(parse(appName, message), `${appName}: ${message}`).toBeNull()
    }
  })

  it('gives each event its own arrays', () => {
    const a = parse('su', 'FAILED su for root by alice')!
    a.event.category.push('mutated')
    expect(parse('su', 'FAILED su for root by alice')!.event.category).toEqual(['authentication'])
  })

  it('stays fast on hostile input', () => {
    const hostile = [
      ['sudo', `alice : ${'TTY=x ; '.repeat(900)}`],
      ['sudo', `${' '.repeat(8000)}x`],
      ['su', `${'(to '.repeat(2000)}`],
      ['CRON', `pam_unix(cron:session): session opened for user ${'a(uid=1)'.repeat(900)}`],
      ['sudo', `pam_unix(sudo:auth): authentication failure; ${'user= '.repeat(1300)}`],
      ['su', `message repeated 2 times: [ ${'message repeated 2 times: [ '.repeat(250)}`],
    ] as const
    const started = performance.now()
    for (let i = 0; i < 20; i++) for (const [appName, message] of hostile) parse(appName, message)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('privilege parser properties', () => {
  const APPS = ['sudo', 'su', 'CRON', 'login', 'su(pam_unix)', null] as const
  const real = [
    ...inputsOf('loghub/Linux_2k.log').filter((i) => privilegeParser.claims(i)).slice(0, 20),
    input('sudo', 'alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls'),
    input('sudo', 'alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls'),
    input('su', '+ pts/0 alice:root'),
    input('su', 'pam_unix(su:auth): authentication failure; logname= uid=500 euid=0 tty= ruser=alice rhost=  user=root'),
    input('sudo', 'pam_unix(sudo:session): session opened for user root by alice(uid=0)'),
  ]

  function wellFormed(fields: PrivilegeFields | null, line: string): boolean {
    if (fields === null) return true
    const { event } = fields
    return event.action.length > 0 && event.category.length > 0 && ['success', 'failure', 'unknown'].includes(event.outcome) && avroProblems(fields, line).length === 0
  }

  it('never throws on random strings, and returns null or a typed event', () => {
    // Any text, and text made of the pieces these messages are made of, which reaches deeper.
    const pieces = ['pam_unix(', 'sudo:auth', '): ', ' : ', ' ; ', 'TTY=', 'USER=', 'COMMAND=', 'session opened for user ', ' by ', '(uid=0)', 'root', ' ', 'su', '+ ', '- ', '(to ', ') ', ' on ', 'authentication failure; ', 'ruser=', 'rhost=', 'user=', '1.2.3.4', 'message repeated 2 times: [ ', ']']
    const text = fc.oneof(fc.string({ maxLength: 300, unit: 'grapheme' }), fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((a) => a.join('')))
    fc.assert(fc.property(fc.constantFrom(...APPS), text, (appName, message) => {
      const i = input(appName, message)
      privilegeParser.claims(i)
      return wellFormed(parsePrivilege(i), message)
    }), { numRuns: 1000 })
  })

  it('never throws on mutated real lines, and returns null or a typed event', () => {
    fc.assert(fc.property(fc.constantFrom(...real), lineEdits([' ', ';', ':', '=', '(', ')', '[', ']', ' ; ', 'COMMAND=', ' by ', '(uid=0)'], 400), (original, changes) => {
      const i = { ...original, message: mutate(original.message, changes) }
      privilegeParser.claims(i)
      return wellFormed(parsePrivilege(i), i.message)
    }), { numRuns: 1000 })
  })
})
