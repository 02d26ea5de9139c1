import type { FamilyParser, ParserInput } from './family-parser.ts'
import { firewallParser } from './firewall.ts'
import { privilegeParser } from './privilege.ts'
import { parseSshd } from './sshd.ts'
import { webAccessParser } from './web-access.ts'
import { webErrorParser } from './web-error.ts'
import { claimsZeek, parseZeek, zeekMessage, zeekTimestamp } from './zeek.ts'

export type { FamilyParser, ParserInput }

const sshd: FamilyParser = {
  family: 'sshd',
  // sshd logs as `sshd`, and its PAM module on older systems as `sshd(pam_unix)`.
  claims: (input) => input.appName !== null && input.appName.startsWith('sshd'),
  parse: (input) => parseSshd(input.message),
}

// First: a line that came with Zeek context is Zeek's whatever its text looks like.
const zeek: FamilyParser = { family: 'zeek', claims: claimsZeek, parse: parseZeek, eventTime: zeekTimestamp, message: zeekMessage }

// Web errors before web access (an nginx error line can quote `] "`), firewall after web (a request line can carry SRC= and DST=).
/** Every family, in the order they are asked whether a line is theirs; the first that claims it parses it. */
export const familyParsers: FamilyParser[] = [zeek, sshd, privilegeParser, webErrorParser, webAccessParser, firewallParser]

/** The parser whose family the line belongs to, or null (a generic syslog line). */
export function parserFor(input: ParserInput): FamilyParser | null {
  for (const parser of familyParsers) if (parser.claims(input)) return parser
  return null
}
