import { usersNamedIn, type Alert } from '@vigil/schemas'
import { toDetectionFinding } from '../ocsf/detection-finding.ts'

/*
 * The one module that reads an alert's fields for the sinks: routing, Slack, email and the webhook
 * body. When alerts become OCSF Detection Findings, this file changes and no other.
 */

const MAX_REASONS = 3
const MAX_EVIDENCE_LINES = 5
const MAX_LINE_CHARS = 300 // per evidence line in a notification; the alert keeps the whole line
const SLACK_HEADER_CHARS = 150 // Block Kit's limit for a header
const SUBJECT_CHARS = 200

/** What routing needs: the outbox key and the severity compared with each sink's minimum. */
export function routingOf(alert: Alert): { alertId: string; severityId: number } {
  return { alertId: alert.alertId, severityId: alert.severityId }
}

/** "4 similar events folded in" when repeats were folded into the alert, else undefined. */
export function foldedInText(eventCount: number): string | undefined {
  const folded = eventCount - 1
  if (folded < 1) return undefined
  return `${folded} similar event${folded === 1 ? '' : 's'} folded in`
}

/** An alert as every notification states it, whatever the medium. */
interface AlertFacts {
  alertId: string
  title: string
  severity: string
  entity: string
  /** the users the cited events name, comma-separated; empty when they name none */
  users: string
  score: string
  firstSeen: string
  detector: string
  eventCount: number
  foldedIn: string | undefined
  reasons: string[]
  evidence: string[]
  evidenceTotal: number
}

function factsOf(alert: Alert, eventCount: number): AlertFacts {
  return {
    alertId: alert.alertId,
    title: oneLine(alert.title),
    severity: alert.severity,
    entity: oneLine(`${alert.entity.kind} ${alert.entity.id}`),
    users: truncate(oneLine(usersNamedIn(alert).join(', ')), MAX_LINE_CHARS),
    score: `${alert.score.toFixed(4)} (threshold ${alert.threshold})`,
    firstSeen: new Date(alert.firstSeen).toISOString(),
    detector: `${alert.detector}, model version ${alert.modelVersion}`,
    eventCount,
    foldedIn: foldedInText(eventCount),
    reasons: reasonsOf(alert).slice(0, MAX_REASONS).map((r) => truncate(oneLine(r), MAX_LINE_CHARS)),
    evidence: alert.evidence.slice(0, MAX_EVIDENCE_LINES).map((e) => truncate(oneLine(e.line), MAX_LINE_CHARS)),
    evidenceTotal: alert.evidence.length,
  }
}

/** Why it alerted, in words: the model's top features against their baselines, or the rules' attribution. */
const reasonsOf = (alert: Alert): string[] => alert.reasons ?? []

// Slack (incoming webhook, Block Kit)

export interface SlackMessage {
  text: string
  blocks: object[]
  unfurl_links: false
  unfurl_media: false
}

/**
 * A Block Kit message with no links: values from logs go into code spans, preformatted or
 * rich-text elements, and every mrkdwn object is verbatim, so Slack links and mentions nothing.
 */
export function slackMessage(alert: Alert, eventCount: number): SlackMessage {
  const f = factsOf(alert, eventCount)
  const field = (label: string, value: string) => mrkdwn(`*${label}*\n${value}`)
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(f.title, SLACK_HEADER_CHARS), emoji: false } },
    {
      type: 'section',
      fields: [
        field('Severity', slackEscape(f.severity)),
        field('Entity', slackCode(f.entity)),
        ...(f.users ? [field('Users', slackCode(f.users))] : []),
        field('Score', slackEscape(f.score)),
        field('First seen', slackEscape(f.firstSeen)),
        field('Detector', slackCode(f.detector)),
        field('Events', slackEscape(f.foldedIn ? `${f.eventCount}: ${f.foldedIn}` : '1')),
      ],
    },
  ]
  if (f.reasons.length > 0) {
    blocks.push(
      { type: 'section', text: mrkdwn('*Top reasons*') },
      { type: 'rich_text', elements: [{ type: 'rich_text_list', style: 'bullet', elements: f.reasons.map((r) => richSection(r)) }] },
    )
  }
  if (f.evidence.length > 0) {
    blocks.push(
      { type: 'section', text: mrkdwn(`*Evidence* (${evidenceShown(f)})`) },
      { type: 'rich_text', elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text: f.evidence.join('\n') }] }] },
    )
  }
  blocks.push({ type: 'context', elements: [mrkdwn(`Vigil alert ${slackCode(f.alertId)}`)] })
  // The fallback text is what notifications show, and Slack reads it as mrkdwn: escaped like the blocks.
  return { text: slackEscape(headline(f)), blocks, unfurl_links: false, unfurl_media: false }
}

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true })
const richSection = (text: string) => ({ type: 'rich_text_section', elements: [{ type: 'text', text }] })
// Slack's mrkdwn escapes only these three; everything else is made literal by a code span.
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const slackCode = (s: string) => `\`${slackEscape(s.replace(/`/g, 'ˋ'))}\``

// Email (plain text and HTML)

export interface EmailMessage {
  subject: string
  text: string
  html: string
}

export function emailMessage(alert: Alert, eventCount: number): EmailMessage {
  const f = factsOf(alert, eventCount)
  const rows: Array<[string, string]> = [
    ['Severity', f.severity],
    ['Entity', f.entity],
    ...(f.users ? [['Users', f.users] as [string, string]] : []),
    ['Score', f.score],
    ['First seen', f.firstSeen],
    ['Detector', f.detector],
    ['Events', f.foldedIn ? `${f.eventCount} (${f.foldedIn})` : '1'],
    ['Alert id', f.alertId],
  ]
  const text = [
    f.title,
    '',
    ...rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${v}`),
    ...(f.reasons.length > 0 ? ['', 'Top reasons', ...f.reasons.map((r) => `- ${r}`)] : []),
    ...(f.evidence.length > 0 ? ['', `Evidence (${evidenceShown(f)})`, ...f.evidence.map((l) => `  ${l}`)] : []),
    '',
  ].join('\n')
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(f.title)}</h2>`,
    '<table cellpadding="4" style="border-collapse:collapse">',
    ...rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
    ...(f.reasons.length > 0 ? ['<h3>Top reasons</h3><ul>', ...f.reasons.map((r) => `<li>${escapeHtml(r)}</li>`), '</ul>'] : []),
    ...(f.evidence.length > 0 ? [`<h3>Evidence (${escapeHtml(evidenceShown(f))})</h3>`, `<pre>${f.evidence.map(escapeHtml).join('\n')}</pre>`] : []),
    '</body></html>',
  ].join('\n')
  const subject = truncate(`[Vigil ${f.severity.toUpperCase()}] ${f.entity}: ${f.title}`, SUBJECT_CHARS)
  return { subject, text, html }
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')

// Generic webhook (JSON)

/** The webhook's JSON body: the alert itself and as an OCSF Detection Finding, its current count and a one-line summary. */
export function webhookBody(alert: Alert, eventCount: number): string {
  const f = factsOf(alert, eventCount)
  const finding = toDetectionFinding(alert, { eventCount })
  return JSON.stringify({ type: 'vigil.alert', alertId: f.alertId, eventCount, foldedIn: eventCount - 1, summary: headline(f), alert, finding })
}

// Shared

/** One line for previews and summaries: severity, title and the folded-in count. */
function headline(f: AlertFacts): string {
  return `[${f.severity.toUpperCase()}] ${f.title}${f.foldedIn ? ` (${f.foldedIn})` : ''}`
}

function evidenceShown(f: AlertFacts): string {
  return f.evidence.length < f.evidenceTotal ? `first ${f.evidence.length} of ${f.evidenceTotal} lines` : `${f.evidence.length} line${f.evidence.length === 1 ? '' : 's'}`
}

// Control characters from a log line would break a header or a subject, or hide text in a terminal.
// eslint-disable-next-line no-control-regex
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, ' ')

/** At most `max` characters, counted in code points so a pair is never split, with … when cut. */
function truncate(s: string, max: number): string {
  const chars = Array.from(s)
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`
}
