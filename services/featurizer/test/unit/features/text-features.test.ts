import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
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

  // Internet Explorer 4 to 8 send Mozilla/4.0, and so do later ones in compatibility view (MSIE 7.0 with Trident/4.0 is IE 8).
  it.each([
    ['sotm34-honeynet/http/access_log.4', 'Mozilla/4.0 (compatible; MSIE 4.01; Windows 95)'],
    ['sotm34-honeynet/http/access_log.2', 'Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)'],
    ['sotm34-honeynet/http/access_log.2', 'Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1; FunWebProducts)'],
    ['stratosphere-zeek/009-zeek-malicious/data/http.log.labeled',
      'Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; Trident/4.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0)'],
  ])('%s: %s is a browser', (file, ua) => {
    expect(fixture(file)).toContain(ua)
    expect(userAgentClass(ua)).toBe('browser')
  })

  it('classifies every MSIE user agent of the sotm34 access logs as a browser', () => {
    const agents = ['6', '5', '4', '3', '2'].flatMap((n) => fixture(`sotm34-honeynet/http/access_log.${n}`).split('\n'))
      .map((line) => /"([^"]*)"$/.exec(line)?.[1] ?? '')
      .filter((ua) => ua.startsWith('Mozilla/4.0 (compatible; MSIE'))
    expect(agents.length).toBeGreaterThan(400)
    expect(agents.filter((ua) => userAgentClass(ua) !== 'browser')).toEqual([])
  })

  it('keeps old-IE strings that name a tool, or an IE that never sent Mozilla/4.0, out of the browsers', () => {
    expect(userAgentClass('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; Nikto)')).toBe('scanner')
    expect(userAgentClass('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; +http://www.baidu.com/search/spider.htm)')).toBe('bot')
    // The Simda botnet's user agent (stratosphere-zeek 005): MSIE 2.0 sent Mozilla/1.22 and had no Trident.
    const simda = 'Mozilla/4.0 (compatible; MSIE 2.0; Windows NT 5.0; Trident/4.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0)'
    expect(fixture('stratosphere-zeek/005-zeek-scenario-malicious/http.log')).toContain(simda)
    expect(userAgentClass(simda)).toBe('none')
  })
})

function fixture(path: string): string {
  return readFileSync(fileURLToPath(new URL(`../../../../../test/fixtures/${path}`, import.meta.url)), 'utf8')
}
