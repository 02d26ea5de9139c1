import type { ParsedFields } from '../ecs-event.ts'

/** What a parser sees of a raw line. */
export interface ParserInput {
  /** the message part (syslog MSG), or the whole line when it came without a syslog header */
  message: string
  /** syslog APP-NAME / TAG, when there is one */
  appName: string | null
  /** the whole original line */
  line: string
  /** for Zeek lines: the log type (conn, dns, http, ...) and, for TSV, the header's field names */
  zeek: { log: string; fields: string[] | null } | null
}

/**
 * One log family: which lines are its own (cheap: a name or a prefix), and how to read them.
 * `parse` returns null for a line of the family in a shape it does not know; the line then
 * becomes a generic event, counted as unparsed for the family. It never throws.
 */
export interface FamilyParser {
  family: string
  claims(input: ParserInput): boolean
  parse(input: ParserInput): ParsedFields | null
  /** the event time the line itself carries (epoch ms), for families whose lines come without a syslog header */
  eventTime?(input: ParserInput): number | null
  /** the family's times name no zone: eventTime gives the sender's wall clock read as UTC */
  eventTimeIsWallClock?: boolean
  /** a message for people, when the family's lines are records rather than text (Zeek) */
  message?(input: ParserInput): string | null
}
