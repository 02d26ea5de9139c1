import { describe, expect, it } from 'vitest'
import { compileMatch } from '../../src/api/suppression-match.ts'

// The user scope: alerts are keyed by address or host, so a user is found among the users the
// events they cite name (the featurizer's related.user, carried on scores and alerts as `users`).
const alertCiting = (...evidence: Array<{ line: string; users?: string[] }>) => ({ detector: 'model:default', entity: { kind: 'source.ip', id: '203.0.113.7' }, evidence })

describe('the user scope', () => {
  it('covers an alert when one of the events it cites names the user, as the one acting or the one acted as', () => {
    const covers = compileMatch({ scope: 'user', value: 'root' })
    expect(covers(alertCiting({ line: 'a', users: [] }, { line: 'sudo: alice : USER=root ; COMMAND=/bin/ls', users: ['alice', 'root'] }))).toBe(true)
    expect(covers(alertCiting({ line: 'Failed password for root from 1.2.3.4 port 22 ssh2', users: ['root'] }))).toBe(true)
  })

  it('goes by the parsed users, not by words in the line', () => {
    const covers = compileMatch({ scope: 'user', value: 'backup' })
    // a host called backup, and a path: the featurizer named no such user
    expect(covers(alertCiting({ line: 'Dec 10 06:55:46 backup sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2', users: ['root'] }))).toBe(false)
    expect(covers(alertCiting({ line: '1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /backup HTTP/1.1" 404 0', users: [] }))).toBe(false)
    expect(covers(alertCiting({ line: 'Failed password for backups from 1.2.3.4 port 22 ssh2', users: ['backups'] }))).toBe(false)
    // evidence stored before alerts carried users
    expect(covers(alertCiting({ line: 'Failed password for backup from 1.2.3.4 port 22 ssh2' }))).toBe(false)
    expect(covers({ detector: 'model:default', entity: { kind: 'source.ip', id: 'backup' } })).toBe(false)
  })

  it('still covers a user.name entity', () => {
    expect(compileMatch({ scope: 'user', value: 'backup' })({ detector: 'model:default', entity: { kind: 'user.name', id: 'backup' } })).toBe(true)
  })
})
