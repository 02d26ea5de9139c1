import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/**
 * Checks an Authorization header against the bearer token. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or content of the guess (timingSafeEqual
 * alone needs equal lengths, and an early length check would tell the token's length).
 */
export function createTokenCheck(token: string): (authorization: string | undefined) => boolean {
  if (token.length === 0) throw new Error('the API token must not be empty')
  const expected = digest(token)
  return (authorization) => {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '')
    return match !== null && timingSafeEqual(digest(match[1]!), expected)
  }
}
