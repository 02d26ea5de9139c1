import type { FamilyParser, ParserInput } from './family-parser.ts'
import { parseSshd } from './sshd.ts'

export type { FamilyParser, ParserInput }

const sshd: FamilyParser = {
  family: 'sshd',
  // sshd logs as `sshd`, and its PAM module on older systems as `sshd(pam_unix)`.
  claims: (input) => input.appName !== null && input.appName.startsWith('sshd'),
  parse: (input) => parseSshd(input.message),
}

/** Every family, in the order they are asked whether a line is theirs; the first that claims it parses it. */
export const familyParsers: FamilyParser[] = [sshd]

/** The parser whose family the line belongs to, or null (a generic syslog line). */
export function parserFor(input: ParserInput): FamilyParser | null {
  for (const parser of familyParsers) if (parser.claims(input)) return parser
  return null
}
