import type { Alert } from '@vigil/schemas'
import { describe, expect, it } from 'vitest'
import { toDetectionFinding } from '../../src/ocsf/detection-finding.ts'
import { emailMessage, foldedInText, routingOf, slackMessage, webhookBody } from '../../src/sinks/render-alert.ts'

const lines = [
  'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
  'Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2',
  `GET /${'a'.repeat(500)} HTTP/1.1`,
  'user `id` <script>alert(1)</script> & *bold* _it_ http://evil.example/x <!channel>',
  'line\twith\u001b[31mcontrol\rchars',
  'sixth line',
  'seventh line',
]

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    alertId: 'a1b2c3',
    detector: 'model:default',
    title: 'Anomalous sshd activity from ip 173.234.31.186',
    severity: 'high',
    severityId: 4,
    entity: { kind: 'ip', id: '173.234.31.186' },
    firstSeen: Date.UTC(2026, 5, 1, 12, 0, 0),
    createdAt: Date.UTC(2026, 5, 1, 12, 0, 5),
    score: 0.99951,
    threshold: 0.99,
    modelVersion: 'v7',
    features: { auth_failure_ratio: 0.94 },
    evidence: lines.map((line, i) => ({ eventId: `raw-logs/0/${i}`, topic: 'raw-logs', partition: 0, offset: String(i), line })),
    ...overrides,
  }
}

/** A Block Kit block or element, as far as these tests read it. */
interface Block {
  type: string
  text?: string | { text: string }
  fields?: Array<{ text: string }>
  elements?: Block[]
}
const textOf = (b: Block | undefined) => (typeof b?.text === 'object' ? b.text.text : b?.text)

/** Every text a Slack message shows, with the object it sits in. */
function slackTexts(node: unknown, out: Array<{ owner: Record<string, unknown>; text: string }> = []) {
  if (Array.isArray(node)) node.forEach((n) => slackTexts(n, out))
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>
    if (typeof o.text === 'string') out.push({ owner: o, text: o.text })
    Object.values(o).forEach((v) => slackTexts(v, out))
  }
  return out
}

describe('folded-in count', () => {
  it('says how many repeats were folded into the alert', () => {
    expect(foldedInText(1)).toBeUndefined()
    expect(foldedInText(2)).toBe('1 similar event folded in')
    expect(foldedInText(5)).toBe('4 similar events folded in')
  })
})

describe('Slack message', () => {
  it('states title, severity, entity, score and the folded-in count, with evidence truncated', () => {
    const message = slackMessage(alert(), 5)
    const blocks = message.blocks as Block[]
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Anomalous sshd activity from ip 173.234.31.186', emoji: false } })
    const fields = blocks[1]!.fields!.map((f) => f.text)
    expect(fields).toEqual([
      '*Severity*\nhigh',
      '*Entity*\n`ip 173.234.31.186`',
      '*Score*\n0.9995 (threshold 0.99)',
      '*First seen*\n2026-06-01T12:00:00.000Z',
      '*Detector*\n`model:default, model version v7`',
      '*Events*\n5: 4 similar events folded in',
    ])
    expect(message.text).toBe('[HIGH] Anomalous sshd activity from ip 173.234.31.186 (4 similar events folded in)')

    const evidenceHeading = blocks.find((b) => b.type === 'section' && textOf(b)?.startsWith('*Evidence*'))
    expect(textOf(evidenceHeading)).toBe('*Evidence* (first 5 of 7 lines)')
    const evidence = blocks.find((b) => b.type === 'rich_text' && b.elements![0]!.type === 'rich_text_preformatted')!
    const shown = textOf(evidence.elements![0]!.elements![0])!.split('\n')
    expect(shown).toHaveLength(5)
    expect(shown[0]).toBe(lines[0])
    expect(Array.from(shown[2]!)).toHaveLength(300)
    expect(shown[2]!.endsWith('…')).toBe(true)
    expect(shown[4]).toBe('line with [31mcontrol chars')
  })

  it('links nothing: no link markup, every mrkdwn object verbatim, no unfurling', () => {
    const id = 'web<01>&`x` <!here> <https://evil.example/login|Open the Vigil console>'
    const message = slackMessage(alert({ title: `Anomalous sshd activity from host ${id}`, entity: { kind: 'host', id } }), 1)
    expect(message.unfurl_links).toBe(false)
    expect(message.unfurl_media).toBe(false)
    const linkSyntax = /<[^>]*>/ // <url|label>, <!channel>, <@user> are Slack's link syntax
    for (const { owner, text } of slackTexts(message.blocks)) {
      if (owner.type === 'mrkdwn') {
        expect(owner.verbatim).toBe(true)
        expect(text).not.toMatch(linkSyntax)
      }
    }
    const entity = (message.blocks[1] as { fields: Array<{ text: string }> }).fields[1]!.text
    expect(entity).toBe('*Entity*\n`host web&lt;01&gt;&amp;ˋxˋ &lt;!here&gt; &lt;https://evil.example/login|Open the Vigil console&gt;`')
    // The top-level text is the notification preview, parsed as mrkdwn too.
    expect(message.text).not.toMatch(linkSyntax)
    expect(message.text).toBe('[HIGH] Anomalous sshd activity from host web&lt;01&gt;&amp;`x` &lt;!here&gt; &lt;https://evil.example/login|Open the Vigil console&gt;')
    expect(JSON.stringify(message)).not.toContain('folded')
  })

  it('lists the top three reasons when the alert carries some', () => {
    expect(JSON.stringify(slackMessage({ ...alert(), reasons: [] }, 1))).not.toContain('Top reasons')
    const explained = { ...alert(), reasons: ['a', 'b', 'c', 'd'].map((f) => `${f}_feature 0.9, training p99 0.1`) }
    const blocks = slackMessage(explained, 1).blocks as Block[]
    const list = blocks.find((b) => b.type === 'rich_text' && b.elements![0]!.type === 'rich_text_list')!
    expect(list.elements![0]!.elements!.map((item) => textOf(item.elements![0]))).toEqual(['a_feature 0.9, training p99 0.1', 'b_feature 0.9, training p99 0.1', 'c_feature 0.9, training p99 0.1'])
  })
})

describe('email', () => {
  it('has severity and entity in a one-line subject, plain text and escaped HTML', () => {
    const { subject, text, html } = emailMessage(alert({ title: 'Anomalous\r\nBcc: x@example.com' }), 3)
    expect(subject).toBe('[Vigil HIGH] ip 173.234.31.186: Anomalous  Bcc: x@example.com')
    expect(text).toContain('Severity:   high\n')
    expect(text).toContain('Events:     3 (2 similar events folded in)\n')
    expect(text).toContain('Evidence (first 5 of 7 lines)\n  Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n')
    expect(html).toContain('<td>3 (2 similar events folded in)</td>')
    expect(html).toContain('user `id` &lt;script&gt;alert(1)&lt;/script&gt; &amp; *bold*')
    expect(html).not.toContain('<script>')
  })

  it('names the users the cited events name, once each, and leaves the row out when they name none', () => {
    const cited = (users: string[][]) => alert({ evidence: users.map((u, i) => ({ eventId: `e${i}`, topic: 'raw-logs', partition: 0, offset: String(i), line: lines[i]!, users: u })) })
    const named = emailMessage(cited([['webmaster'], ['alice', 'root'], ['root'], []]), 4)
    expect(named.text).toContain('Users:      webmaster, alice, root\n')
    expect(named.html).toContain('<th align="left">Users</th><td>webmaster, alice, root</td>')
    const fields = (slackMessage(cited([['<!here>']]), 1).blocks[1] as Block).fields!.map((f) => f.text)
    expect(fields).toContain('*Users*\n`&lt;!here&gt;`')
    expect(emailMessage(cited([[], []]), 2).text).not.toContain('Users:')
    expect((slackMessage(alert(), 1).blocks[1] as Block).fields!.map((f) => f.text).join()).not.toContain('Users')
  })

  it('says nothing of folding for a single event', () => {
    const { text, html } = emailMessage(alert(), 1)
    expect(text).toContain('Events:     1\n')
    expect(text + html).not.toContain('folded')
  })
})

describe('webhook body', () => {
  it('is the alert with its count and a summary, and the alert as an OCSF Detection Finding, as JSON', () => {
    const a = alert()
    expect(JSON.parse(webhookBody(a, 4))).toEqual({
      type: 'vigil.alert', alertId: 'a1b2c3', eventCount: 4, foldedIn: 3,
      summary: '[HIGH] Anomalous sshd activity from ip 173.234.31.186 (3 similar events folded in)', alert: a,
      finding: JSON.parse(JSON.stringify(toDetectionFinding(a, { eventCount: 4 }))),
    })
    expect(JSON.parse(webhookBody(a, 4)).finding).toMatchObject({ class_uid: 2004, finding_info: { uid: 'a1b2c3' }, count: 4 })
  })
})

describe('routing', () => {
  it('reads the id and the OCSF severity id', () => {
    expect(routingOf(alert({ severityId: 3 }))).toEqual({ alertId: 'a1b2c3', severityId: 3 })
  })
})
