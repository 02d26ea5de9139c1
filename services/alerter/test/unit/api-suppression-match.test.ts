import { describe, expect, it } from 'vitest'
import { compileMatch, usersNamedIn } from '../../src/api/suppression-match.ts'

// The user scope: alerts are keyed by address or host, so a user is found in the lines they cite.
const alertCiting = (...lines: string[]) => ({ detector: 'model:default', entity: { kind: 'source.ip', id: '203.0.113.7' }, evidence: lines.map((line) => ({ line })) })

describe('the user scope', () => {
  it.each([
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2', 'webmaster'],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Accepted publickey for alice from 10.0.0.1 port 50000 ssh2: RSA SHA256:x', 'alice'],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user backup from 173.234.31.186', 'backup'],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: User backup from 1.2.3.4 not allowed because not listed in AllowUsers', 'backup'],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Connection closed by authenticating user root 1.2.3.4 port 22 [preauth]', 'root'],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=backup', 'backup'],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:session): session opened for user backup by (uid=0)', 'backup'],
    ['Dec 10 06:55:46 LabSZ sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls', 'alice'],
    ['Dec 10 06:55:46 LabSZ su: (to root) alice on pts/0', 'alice'],
  ])('finds the user in %s', (line, user) => {
    expect(usersNamedIn(line)).toContain(user)
    expect(compileMatch({ scope: 'user', value: user })(alertCiting('unrelated line', line))).toBe(true)
  })

  it('does not take a host, a path or a word for a user', () => {
    const covers = compileMatch({ scope: 'user', value: 'backup' })
    expect(covers(alertCiting('Dec 10 06:55:46 backup sshd[1]: Connection closed by 1.2.3.4 port 22 [preauth]'))).toBe(false)
    expect(covers(alertCiting('1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /backup HTTP/1.1" 404 0'))).toBe(false)
    expect(covers(alertCiting('Dec 10 06:55:46 LabSZ sshd[1]: Failed password for backups from 1.2.3.4 port 22 ssh2'))).toBe(false)
    expect(covers({ detector: 'model:default', entity: { kind: 'source.ip', id: 'backup' } })).toBe(false)
  })

  it('still covers a user.name entity', () => {
    expect(compileMatch({ scope: 'user', value: 'backup' })({ detector: 'model:default', entity: { kind: 'user.name', id: 'backup' } })).toBe(true)
  })
})
