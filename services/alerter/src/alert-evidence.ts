import type { AlertEvidence } from '@vigil/schemas'

/*
 * An alert's evidence: the original lines it cites, at most ALERT_MAX_EVIDENCE. Its first line is
 * always the event its body describes, the one its score, features, reasons and model version come
 * from, so what the alert claims can be checked against a line it cites however many events it
 * folded in (and a notification, which shows the first few, shows that one). Whatever builds an
 * alert puts that event first; folding keeps it there.
 */

/** `lines` in their order, each event once, at most `maxEvidence`: the first given is the body's event. */
export function citedEvidence(lines: readonly AlertEvidence[], maxEvidence: number): AlertEvidence[] {
  const seen = new Set<string>()
  return lines.filter((e) => !seen.has(e.eventId) && seen.add(e.eventId)).slice(0, maxEvidence)
}

/**
 * The evidence of an alert (`cited`) once another raising of it (`raised`, its own body's event
 * first) is folded in. When the raising now describes the body (it scored higher), its event goes
 * first, ahead of the line it displaces (the highest-scoring before it, at first the alert's opening
 * event); otherwise its lines follow those cited. At the cap, the lines cited last give way.
 */
export function foldedEvidence(
  cited: readonly AlertEvidence[], raised: readonly AlertEvidence[], raisedDescribesBody: boolean, maxEvidence: number,
): AlertEvidence[] {
  const [raisedBody, ...raisedRest] = raised
  return citedEvidence(raisedDescribesBody && raisedBody ? [raisedBody, ...cited, ...raisedRest] : [...cited, ...raised], maxEvidence)
}
