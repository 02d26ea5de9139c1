import { describe, expect, it } from 'vitest'
import { shannonEntropy, userAgentClass } from '../../../src/features/text-features.ts'

describe('shannonEntropy', () => {
  it('is 0 for nothing or one repeated character, log2(n) for n equally likely ones', () => {
    expect(shannonEntropy('')).toBe(0)
    expect(shannonEntropy(null)).toBe(0)
    expect(shannonEntropy('aaaa')).toBe(0)
    expect(shannonEntropy('abcd')).toBeCloseTo(2, 12)
  })

  it('ranks a random-looking DNS name above a word-like one', () => {
    expect(shannonEntropy('x7f9q2kz1vbn8w3.example.com')).toBeGreaterThan(shannonEntropy('mail.google.com'))
  })
})

describe('userAgentClass', () => {
  it.each([
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', 'browser'],
    ['curl/8.4.0', 'cli'],
    ['python-requests/2.31.0', 'cli'],
    ['Go-http-client/1.1', 'cli'],
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'bot'],
    ['Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)', 'scanner'],
    ['sqlmap/1.7.2#stable (https://sqlmap.org)', 'scanner'],
    ['Mozilla/5.0 (compatible; Netsparker)', 'scanner'],
    ['-', 'none'],
    [null, 'none'],
  ])('%s is %s', (ua, kind) => {
    expect(userAgentClass(ua)).toBe(kind)
  })
})
