import { describe, expect, it } from 'vitest'
import { allTopics, createCodec } from '@vigil/schemas'
import { createRawLogDecoder } from '../../src/decode-raw-log.ts'
import { enrichEvent } from '../../src/enrich-event.ts'
import { normalizeEvent } from '../../src/normalize-event.ts'

// ECS related.user is what scores and alerts carry as their evidence's `users`, and what an
// analyst's `user` suppression matches: every phrasing a user appears in must land there.
const codec = await createCodec({ kafkaName: (t) => t.name, topics: allTopics() })
const decode = createRawLogDecoder(codec, 'raw-logs')
async function relatedUsers(line: string): Promise<string[]> {
  const value = await decode(Buffer.from(line), {})
  const event = enrichEvent(normalizeEvent({ value, key: null, topic: 'raw-logs', partition: 0, offset: '1', timestamp: 0, headers: {} }), null)
  return event.ecs.related?.user ?? []
}

describe('related.user', () => {
  it.each([
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2', ['webmaster']],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Accepted publickey for alice from 10.0.0.1 port 50000 ssh2: RSA SHA256:x', ['alice']],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user backup from 173.234.31.186', ['backup']],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: User backup from 1.2.3.4 not allowed because not listed in AllowUsers', ['backup']],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Connection closed by authenticating user root 1.2.3.4 port 22 [preauth]', ['root']],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=backup', ['backup']],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:session): session opened for user backup by (uid=0)', ['backup']],
    ['Dec 10 06:55:46 LabSZ sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls', ['alice', 'root']],
    ['Dec 10 06:55:46 LabSZ su: (to root) alice on pts/0', ['alice', 'root']],
    ['10.0.0.5 - bob [10/Oct/2025:13:55:36 +0000] "GET /admin HTTP/1.1" 401 0 "-" "curl/8.5.0"', ['bob']],
  ])('names the users of %s', async (line, users) => {
    expect(await relatedUsers(line)).toEqual(users)
  })

  it('does not take a host, a path or a longer name for a user', async () => {
    expect(await relatedUsers('Dec 10 06:55:46 backup sshd[1]: Connection closed by 1.2.3.4 port 22 [preauth]')).toEqual([])
    expect(await relatedUsers('1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /backup HTTP/1.1" 404 0 "-" "curl/8.5.0"')).toEqual([])
    expect(await relatedUsers('Dec 10 06:55:46 LabSZ sshd[1]: Failed password for backups from 1.2.3.4 port 22 ssh2')).toEqual(['backups'])
  })
})
