import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseSshd, type SshdFields } from '../../../src/parsers/sshd.ts'

const fixture = (path: string) => fileURLToPath(new URL(`../../../../../test/fixtures/${path}`, import.meta.url))
// BSD syslog as written to disk: `Dec 10 06:55:46 LabSZ sshd[24200]: <message>`; the loghub files use CRLF.
const PREFIX = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ ([^:[\s]+)\[\d+\]: /

function messagesOf(path: string, program: string): string[] {
  const lines = readFileSync(fixture(path), 'utf8').split(/\r?\n/).filter((l) => l.length > 0)
  return lines.flatMap((line) => {
    const m = PREFIX.exec(line)
    return m !== null && m[1] === program ? [line.slice(m[0].length)] : []
  })
}

const AUTH_FAILED = { category: ['authentication'], type: ['info'], outcome: 'failure' as const }

describe('parseSshd on loghub OpenSSH_2k.log', () => {
  const messages = messagesOf('loghub/OpenSSH_2k.log', 'sshd')

  it('parses every line', () => {
    expect(messages).toHaveLength(2000)
    const unparsed = messages.filter((m) => parseSshd(m) === null)
    const counts = new Map<string, number>()
    for (const m of messages) {
      const action = parseSshd(m)?.event.action ?? '(unparsed)'
      counts.set(action, (counts.get(action) ?? 0) + 1)
    }
    const table = [...counts].sort((a, b) => b[1] - a[1]).map(([action, n]) => `${action.padEnd(28)} ${String(n).padStart(5)}  ${((100 * n) / messages.length).toFixed(1).padStart(5)}%`)
    console.log(`sshd actions on OpenSSH_2k.log (${messages.length} lines, ${unparsed.length} unparsed):\n${table.join('\n')}`)
    expect(unparsed).toEqual([])
  })

  it.each<[string, SshdFields]>([
    ['reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!', {
      event: { category: ['network'], type: ['info'], action: 'ssh_reverse_mapping_failed', outcome: 'failure' },
      source: { ip: '173.234.31.186', domain: 'ns.marryaldkfaczcz.com' },
    }],
    ['Invalid user webmaster from 173.234.31.186', {
      event: { ...AUTH_FAILED, action: 'ssh_invalid_user' }, source: { ip: '173.234.31.186' }, user: { name: 'webmaster' }, ssh: { invalid_user: true },
    }],
    ['input_userauth_request: invalid user webmaster [preauth]', {
      event: { ...AUTH_FAILED, action: 'ssh_invalid_user_request' }, user: { name: 'webmaster' }, ssh: { invalid_user: true },
    }],
    ['pam_unix(sshd:auth): check pass; user unknown', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_check_pass' }, ssh: { invalid_user: true },
    }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 ', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_auth_failure' }, source: { ip: '173.234.31.186' },
    }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=ec2-52-80-34-196.cn-north-1.compute.amazonaws.com.cn ', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_auth_failure' }, source: { domain: 'ec2-52-80-34-196.cn-north-1.compute.amazonaws.com.cn' },
    }],
    // A name that starts like an address is still a name.
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_auth_failure' }, source: { domain: '5.36.59.76.dynamic-dsl-ip.omantel.net.om' }, user: { name: 'root' },
    }],
    ['Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2', {
      event: { ...AUTH_FAILED, action: 'ssh_login_failed' }, source: { ip: '173.234.31.186', port: 38926 }, user: { name: 'webmaster' },
      ssh: { method: 'password', invalid_user: true },
    }],
    ['Failed none for invalid user 0 from 5.188.10.180 port 49811 ssh2', {
      event: { ...AUTH_FAILED, action: 'ssh_login_failed' }, source: { ip: '5.188.10.180', port: 49811 }, user: { name: '0' },
      ssh: { method: 'none', invalid_user: true },
    }],
    // The sample has usernames that start with a space; they are kept as sent.
    ['Failed password for invalid user  0101 from 5.188.10.180 port 36279 ssh2', {
      event: { ...AUTH_FAILED, action: 'ssh_login_failed' }, source: { ip: '5.188.10.180', port: 36279 }, user: { name: ' 0101' },
      ssh: { method: 'password', invalid_user: true },
    }],
    ['Accepted password for fztu from 119.137.62.142 port 49116 ssh2', {
      event: { category: ['authentication'], type: ['start'], action: 'ssh_login_succeeded', outcome: 'success' },
      source: { ip: '119.137.62.142', port: 49116 }, user: { name: 'fztu' }, ssh: { method: 'password' },
    }],
    ['pam_unix(sshd:session): session opened for user fztu by (uid=0)', {
      event: { category: ['session'], type: ['start'], action: 'ssh_session_opened', outcome: 'success' }, user: { name: 'fztu' },
    }],
    ['pam_unix(sshd:session): session closed for user fztu', {
      event: { category: ['session'], type: ['end'], action: 'ssh_session_closed', outcome: 'success' }, user: { name: 'fztu' },
    }],
    ['Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnect', outcome: 'unknown' }, source: { ip: '52.80.34.196' },
    }],
    ['error: Received disconnect from 195.154.37.122: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnect', outcome: 'unknown' }, source: { ip: '195.154.37.122' },
    }],
    ['message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]', {
      event: { ...AUTH_FAILED, action: 'ssh_login_failed' }, source: { ip: '5.36.59.76', port: 42393 }, user: { name: 'root' },
      ssh: { method: 'password', repeated: 5 },
    }],
    ['Disconnecting: Too many authentication failures for root [preauth]', {
      event: { ...AUTH_FAILED, action: 'ssh_too_many_auth_failures' }, user: { name: 'root' },
    }],
    ['PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.188.10.180 ', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_more_auth_failures' }, source: { ip: '5.188.10.180' }, ssh: { attempts: 1 },
    }],
    ['PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_more_auth_failures' }, source: { domain: '5.36.59.76.dynamic-dsl-ip.omantel.net.om' },
      user: { name: 'root' }, ssh: { attempts: 5 },
    }],
    ['PAM service(sshd) ignoring max retries; 6 > 3', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_max_retries' }, ssh: { attempts: 6 },
    }],
    ['Did not receive identification string from 103.207.39.16', {
      event: { category: ['network'], type: ['info'], action: 'ssh_no_identification', outcome: 'failure' }, source: { ip: '103.207.39.16' },
    }],
    ['fatal: Write failed: Connection reset by peer [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_connection_reset', outcome: 'failure' },
    }],
    ['Connection closed by 212.47.254.145 [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_connection_closed', outcome: 'unknown' }, source: { ip: '212.47.254.145' },
    }],
  ])('reads %j', (message, expected) => {
    expect(messages).toContain(message)
    expect(parseSshd(message)).toEqual(expected)
  })
})

describe('parseSshd on sotm34 secure.{6..2}', () => {
  const messages = ['6', '5', '4', '3', '2'].flatMap((n) => messagesOf(`sotm34-honeynet/syslog/secure.${n}`, 'sshd'))

  it('parses every line', () => {
    expect(messages).toHaveLength(1187)
    expect(messages.filter((m) => parseSshd(m) === null)).toEqual([])
  })

  it.each<[string, SshdFields]>([
    ["scanned from 217.74.112.2 with SSH-1.0-SSH_Version_Mapper.  Don't panic.", {
      event: { category: ['network'], type: ['info'], action: 'ssh_version_scan', outcome: 'failure' }, source: { ip: '217.74.112.2' },
    }],
    ['fatal: Timeout before authentication for 202.110.184.100', {
      event: { category: ['network'], type: ['end'], action: 'ssh_auth_timeout', outcome: 'failure' }, source: { ip: '202.110.184.100' },
    }],
  ])('reads %j', (message, expected) => {
    expect(messages).toContain(message)
    expect(parseSshd(message)).toEqual(expected)
  })
})

describe('parseSshd on shapes beyond the sample', () => {
  it.each<[string, SshdFields]>([
    ['Accepted publickey for alice from 2001:db8::7 port 50122 ssh2: RSA SHA256:8d7Hk3mJ1xQm0tZq9uRkQ3H0n5Zf9c3nq2Cj1yAqk2E', {
      event: { category: ['authentication'], type: ['start'], action: 'ssh_login_succeeded', outcome: 'success' },
      source: { ip: '2001:db8::7', port: 50122 }, user: { name: 'alice' }, ssh: { method: 'publickey' },
    }],
    ['Accepted keyboard-interactive/pam for bob from 10.1.2.3 port 2222 ssh2', {
      event: { category: ['authentication'], type: ['start'], action: 'ssh_login_succeeded', outcome: 'success' },
      source: { ip: '10.1.2.3', port: 2222 }, user: { name: 'bob' }, ssh: { method: 'keyboard-interactive/pam' },
    }],
    ['Failed publickey for root from 198.51.100.4 port 41000 ssh2: ED25519 SHA256:2p5sF0oRk7bX1yqV9mZc', {
      event: { ...AUTH_FAILED, action: 'ssh_login_failed' }, source: { ip: '198.51.100.4', port: 41000 }, user: { name: 'root' }, ssh: { method: 'publickey' },
    }],
    ['Invalid user oracle from 198.51.100.4 port 41000', {
      event: { ...AUTH_FAILED, action: 'ssh_invalid_user' }, source: { ip: '198.51.100.4', port: 41000 }, user: { name: 'oracle' }, ssh: { invalid_user: true },
    }],
    ['error: maximum authentication attempts exceeded for invalid user admin from 198.51.100.4 port 41000 ssh2 [preauth]', {
      event: { ...AUTH_FAILED, action: 'ssh_max_auth_attempts' }, source: { ip: '198.51.100.4', port: 41000 }, user: { name: 'admin' }, ssh: { invalid_user: true },
    }],
    ['error: maximum authentication attempts exceeded for root from 198.51.100.4 port 41000 ssh2 [preauth]', {
      event: { ...AUTH_FAILED, action: 'ssh_max_auth_attempts' }, source: { ip: '198.51.100.4', port: 41000 }, user: { name: 'root' },
    }],
    ['Disconnecting: Too many authentication failures [preauth]', { event: { ...AUTH_FAILED, action: 'ssh_too_many_auth_failures' } }],
    ['Disconnecting authenticating user root 198.51.100.4 port 41000: Too many authentication failures [preauth]', {
      event: { ...AUTH_FAILED, action: 'ssh_too_many_auth_failures' }, source: { ip: '198.51.100.4', port: 41000 }, user: { name: 'root' },
    }],
    ['Address 203.0.113.9 maps to scan.example.net, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!', {
      event: { category: ['network'], type: ['info'], action: 'ssh_reverse_mapping_failed', outcome: 'failure' },
      source: { ip: '203.0.113.9', domain: 'scan.example.net' },
    }],
    ['Received disconnect from 203.0.113.9 port 51234:11: disconnected by user', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnect', outcome: 'unknown' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ['Received disconnect from 2001:db8::1: 11: Bye Bye [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnect', outcome: 'unknown' }, source: { ip: '2001:db8::1' },
    }],
    ['Disconnected from invalid user test 203.0.113.9 port 51234 [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnected', outcome: 'unknown' },
      source: { ip: '203.0.113.9', port: 51234 }, user: { name: 'test' }, ssh: { invalid_user: true },
    }],
    ['Disconnected from authenticating user root 203.0.113.9 port 51234 [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnected', outcome: 'unknown' }, source: { ip: '203.0.113.9', port: 51234 }, user: { name: 'root' },
    }],
    ['Disconnected from 203.0.113.9 port 51234', {
      event: { category: ['network'], type: ['end'], action: 'ssh_disconnected', outcome: 'unknown' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ['Connection closed by authenticating user git 203.0.113.9 port 51234 [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_connection_closed', outcome: 'unknown' }, source: { ip: '203.0.113.9', port: 51234 }, user: { name: 'git' },
    }],
    ['Connection reset by 203.0.113.9 port 51234', {
      event: { category: ['network'], type: ['end'], action: 'ssh_connection_reset', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ['fatal: Read from socket failed: Connection reset by peer [preauth]', {
      event: { category: ['network'], type: ['end'], action: 'ssh_connection_reset', outcome: 'failure' },
    }],
    ['Did not receive identification string from 203.0.113.9 port 51234', {
      event: { category: ['network'], type: ['info'], action: 'ssh_no_identification', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ["Bad protocol version identification 'GET / HTTP/1.1' from 203.0.113.9 port 51234", {
      event: { category: ['network'], type: ['info'], action: 'ssh_bad_protocol_version', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=carol', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_auth_failure' }, source: { ip: '203.0.113.9' }, user: { name: 'carol' },
    }],
    ['PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root', {
      event: { ...AUTH_FAILED, action: 'ssh_pam_more_auth_failures' }, source: { ip: '203.0.113.9' }, user: { name: 'root' }, ssh: { attempts: 2 },
    }],
    ['pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)', {
      event: { category: ['session'], type: ['start'], action: 'ssh_session_opened', outcome: 'success' }, user: { name: 'root' },
    }],
    ['Connection from 203.0.113.9 port 51234 on 192.0.2.10 port 22 rdomain ""', {
      event: { category: ['network'], type: ['start'], action: 'ssh_connection_opened', outcome: 'success' },
      source: { ip: '203.0.113.9', port: 51234 }, destination: { ip: '192.0.2.10', port: 22 },
    }],
    ['error: kex_exchange_identification: Connection closed by remote host', {
      event: { category: ['network'], type: ['info'], action: 'ssh_kex_failed', outcome: 'failure' },
    }],
    ['Unable to negotiate with 203.0.113.9 port 51234: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]', {
      event: { category: ['network'], type: ['info'], action: 'ssh_negotiation_failed', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ["probed from 203.0.113.9 port 51234 with SSH-2.0-Probe.  Don't panic.", {
      event: { category: ['network'], type: ['info'], action: 'ssh_version_scan', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    // Newer sshd writes the port too.
    ["scanned from 203.0.113.9 port 51234 with SSH-1.0-SSH_Version_Mapper.  Don't panic.", {
      event: { category: ['network'], type: ['info'], action: 'ssh_version_scan', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ['fatal: Timeout before authentication for 203.0.113.9 port 51234', {
      event: { category: ['network'], type: ['end'], action: 'ssh_auth_timeout', outcome: 'failure' }, source: { ip: '203.0.113.9', port: 51234 },
    }],
    ['User root from 203.0.113.9 not allowed because not listed in AllowUsers', {
      event: { ...AUTH_FAILED, action: 'ssh_user_not_allowed' }, source: { ip: '203.0.113.9' }, user: { name: 'root' }, ssh: { invalid_user: true },
    }],
    ['Server listening on :: port 22.', {
      event: { category: ['process'], type: ['start'], action: 'ssh_server_listening', outcome: 'success' }, destination: { ip: '::', port: 22 },
    }],
  ])('reads %j', (message, expected) => {
    expect(parseSshd(message)).toEqual(expected)
  })

  it('reads the old sshd(pam_unix) messages of loghub Linux_2k.log', () => {
    const messages = messagesOf('loghub/Linux_2k.log', 'sshd(pam_unix)')
    expect(messages).toHaveLength(677)
    expect(messages.filter((m) => parseSshd(m) === null)).toEqual([])
    expect(parseSshd('authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root')).toEqual({
      event: { ...AUTH_FAILED, action: 'ssh_pam_auth_failure' }, source: { domain: '220-135-151-1.hinet-ip.hinet.net' }, user: { name: 'root' },
    })
  })

  it('takes the address sshd wrote, not one smuggled in a username', () => {
    expect(parseSshd('Failed password for invalid user x from 10.0.0.1 port 1 ssh2 from 203.0.113.9 port 4242 ssh2')).toMatchObject({
      source: { ip: '203.0.113.9', port: 4242 }, user: { name: 'x from 10.0.0.1 port 1 ssh2' },
    })
    expect(parseSshd('Accepted password for x from 10.0.0.1 port 1 ssh2: from 203.0.113.9 port 4242 ssh2')).toMatchObject({
      source: { ip: '203.0.113.9', port: 4242 }, user: { name: 'x from 10.0.0.1 port 1 ssh2:' },
    })
    expect(parseSshd('Connection closed by authenticating user x 10.0.0.1 port 1 203.0.113.9 port 4242 [preauth]')).toMatchObject({
      source: { ip: '203.0.113.9', port: 4242 }, user: { name: 'x 10.0.0.1 port 1' },
    })
    expect(parseSshd('Connection closed by invalid user a b 203.0.113.9')).toMatchObject({ source: { ip: '203.0.113.9' }, user: { name: 'a b' } })
  })

  it('returns null for shapes it does not know', () => {
    for (const message of ['', 'Server listening', 'Accepted password for', 'Starting session: shell on pts/0 for root', 'random text', 'message repeated 2 times: [ nonsense]']) {
      expect(parseSshd(message)).toBeNull()
    }
    expect(parseSshd(`Invalid user ${'a'.repeat(5000)} from 10.0.0.1`)).toBeNull()
  })

  it('gives each event its own arrays', () => {
    const a = parseSshd('Invalid user a from 10.0.0.1')!
    a.event.category.push('mutated')
    expect(parseSshd('Invalid user a from 10.0.0.1')!.event.category).toEqual(['authentication'])
  })

  it('stays fast on hostile input', () => {
    const hostile = [
      `Failed password for ${' from 1.1.1.1 port 1 ssh2'.repeat(75)}x`,
      `Accepted password for ${'a from '.repeat(290)}`,
      `input_userauth_request: invalid user ${' '.repeat(2000)}x`,
      `pam_unix(sshd:auth): authentication failure; ${'rhost= '.repeat(290)}`,
      `Connection closed by ${'user '.repeat(400)}`,
    ]
    const started = performance.now()
    for (let i = 0; i < 20; i++) for (const message of hostile) parseSshd(message)
    expect(performance.now() - started).toBeLessThan(500)
  })
})
