import { describe, expect, it } from 'vitest'
import { createTokenCheck } from '../../src/api/auth.ts'

const TOKEN = 'tok_8f3a9c1e5b7d4a2f6e0c9b8a7d6e5f4a'

describe('bearer token check', () => {
  const check = createTokenCheck(TOKEN)

  it('accepts the token, with the scheme in any case', () => {
    expect(check(`Bearer ${TOKEN}`)).toBe(true)
    expect(check(`bearer ${TOKEN}`)).toBe(true)
    expect(check(`BEARER  ${TOKEN} `)).toBe(true)
  })

  it('refuses a missing header, another scheme, and any other token', () => {
    expect(check(undefined)).toBe(false)
    expect(check('')).toBe(false)
    expect(check('Bearer')).toBe(false)
    expect(check('Bearer ')).toBe(false)
    expect(check(TOKEN)).toBe(false) // no scheme
    expect(check(`Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`)).toBe(false)
    expect(check(`Token ${TOKEN}`)).toBe(false)
    expect(check(`Bearer ${TOKEN.slice(0, -1)}`)).toBe(false) // a prefix
    expect(check(`Bearer ${TOKEN}x`)).toBe(false) // longer
    expect(check(`Bearer ${TOKEN.toUpperCase()}`)).toBe(false) // tokens are case-sensitive
    expect(check(`Bearer ${TOKEN} ${TOKEN}`)).toBe(false)
    expect(check(`Bearer\t${TOKEN}`)).toBe(false)
  })

  it('refuses to be built with an empty token', () => {
    expect(() => createTokenCheck('')).toThrow('must not be empty')
  })
})
