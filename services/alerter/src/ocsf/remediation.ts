import type { Alert, AlertExplanation, MatchedRule } from '@vigil/schemas'
import type { DetectorKind } from './detector-kind.ts'
import { isNearest, isOuterTenth } from './anomaly-analyses.ts'

/**
 * A recommended action, for alerts whose Sigma rules are tagged with one of `techniques`, or (for
 * rules without such a tag) whose titles match `titles`, or whose model explanation leads with one
 * of `features`. SigmaHQ titles name the technique too ("SQL Injection Strings In URI"), and some
 * rules, Vigil's own among them, have no ATT&CK tag.
 */
export interface RemediationEntry {
  name: string
  /** MITRE ATT&CK technique ids, lower case (`t1110`); a tag for one of its sub-techniques (`attack.t1110.001`) matches too */
  techniques?: readonly string[]
  titles?: RegExp
  features?: readonly string[]
  action: string
}

/** Tried in order; the first that fits gives the action. The README lists the same table. */
export const REMEDIATIONS: readonly RemediationEntry[] = [
  {
    name: 'ssh-login-after-guessing',
    titles: /successful ssh login after/i,
    action: 'Treat the account that logged in as compromised: end its sessions, lock it, rotate its password and SSH keys, block the source address at the firewall and review what the session did.',
  },
  {
    name: 'ssh-brute-force',
    techniques: ['t1110'], // Brute Force
    titles: /brute.?force|failed ssh login|password guess/i, // SSH, RDP, FTP and others
    features: ['auth_failures', 'auth_failure_ratio', 'invalid_user_attempts', 'auth_attempts', 'auth_attempts_per_minute', 'distinct_users'],
    action: 'Block the source address at the firewall (or with fail2ban; for a source named only by host name, the addresses that name resolves to), then look for any successful login from it (sshd\'s "Accepted password" or "Accepted publickey" from that address, PAM\'s "session opened" on a host that logs only PAM\'s lines, a Windows logon, event 4624, on the hosts its Remote Desktop connections reached, or the service\'s own log); if there is one, treat that account as compromised.',
  },
  {
    name: 'ssh-login',
    techniques: ['t1078'], // Valid Accounts
    titles: /successful ssh login|accepted (password|publickey)/i,
    features: ['geo_new_country_for_user', 'ip_new_for_user', 'geo_distance_from_usual_km'],
    action: 'Confirm with the account owner that the login (account, source address, time) was theirs; if not, end the session, reset the credentials and block the source address.',
  },
  {
    name: 'ssh-scan',
    // by title only: a rule tagged T1046 Network Service Discovery (pnscan, auditd's scanning rules) may not be about sshd
    titles: /ssh scan/i,
    action: 'Block the source address at the firewall; a scanner that found sshd answering often comes back to guess passwords, so check the auth log for failed or accepted logins from it, and consider limiting who can reach the SSH port.',
  },
  {
    name: 'network-scan',
    // by title: T1046 Network Service Discovery also tags rules about a scanner run on a host (pnscan,
    // auditd's), and the web scanner's title pattern (below) would take "port scan"
    titles: /network sweep|network scan|port scan/i,
    action: 'What matters is which probed hosts and ports answered: look in the firewall or Zeek conn log for connections from the source that succeeded, and close or restrict what should not be reachable. A source outside your network: block it at the firewall. One of your own hosts: treat it as possibly compromised (a worm, or an intruder looking for the next host), find the process that opened the connections and isolate the host.',
  },
  {
    name: 'sshd-exploit',
    titles: /\bssh/i,
    action: 'Check that OpenSSH on the host is patched against what the rule names, block the source address at the firewall and look for a successful login from it.',
  },
  {
    name: 'malware-c2',
    // Application Layer Protocol, Non-Application Layer Protocol, Web Service, Ingress Tool Transfer, Dynamic Resolution,
    // Non-Standard Port, Resource Hijacking, BITS Jobs, Exfiltration Over Alternative Protocol / Web Service
    techniques: ['t1071', 't1095', 't1102', 't1105', 't1568', 't1571', 't1496', 't1197', 't1048', 't1567'],
    titles: /malware|\bc2\b|beacon|backdoor|miner|cobalt strike|\bapt\b|stealer|tor proxies/i,
    features: ['bytes', 'duration_seconds', 'distinct_destinations', 'dns_query_entropy'],
    action: 'Isolate the host that made the traffic, collect its running processes and open connections, and block the destination at the proxy or firewall.',
  },
  {
    name: 'webshell',
    techniques: ['t1505.003'], // Server Software Component: Web Shell
    titles: /web ?shell/i,
    action: 'Look for the web shell on the server (the requested path), take the host out of service if it is there, block the source address and review the server for other changed files.',
  },
  {
    name: 'web-scanner',
    techniques: ['t1595', 't1590', 't1083'], // Active Scanning, Gather Victim Network Information, File and Directory Discovery
    titles: /scan|recon|enumeration|user.?agent|hack ?tool|sql injection|cross site scripting|template injection|path traversal|java payload|jndi|log4j|shellshock|fuzzing/i,
    features: ['requests_per_second', 'distinct_url_paths', 'http_4xx_ratio', 'http_5xx_ratio', 'url_entropy', 'user_agent_is_scanner', 'user_agent_is_cli', 'user_agent_is_bot', 'user_agent_entropy', 'is_sensitive_endpoint'],
    action: 'Block or rate-limit the source address at the reverse proxy or WAF, check which of its requests got a 2xx response (those reached the application) and confirm the targeted application is patched.',
  },
  {
    name: 'host-tampering',
    // Exploitation for Privilege Escalation, Abuse Elevation Control Mechanism, Scheduled Task/Job, Indicator Removal,
    // Data Manipulation, Impair Defenses, Hijack Execution Flow, Create Account, Account Manipulation, Command and
    // Scripting Interpreter, Boot or Logon Autostart Execution
    techniques: ['t1068', 't1548', 't1053', 't1070', 't1565', 't1562', 't1574', 't1136', 't1098', 't1059', 't1547'],
    titles: /privilege|sudo|crontab|history|syslog|security tools|user has been created|ld\.so|reverse shell|\/dev\/tcp/i,
    action: 'Find who ran the command on the host (sudo, su and login records), check the host is patched against what the rule names, undo what it changed and reset the credentials of the accounts involved.',
  },
  {
    name: 'web-exploit',
    techniques: ['t1190', 't1210'], // Exploit Public-Facing Application, Exploitation of Remote Services
    titles: /cve-\d{4}-\d+|exploit|\brce\b|command injection|auth bypass/i,
    action: 'Confirm the targeted product is patched against the vulnerability the rule names, check whether the requests from the source succeeded (for a web application, a 2xx response), and block the source address.',
  },
]

const GENERIC_ACTION = 'Review the evidence lines and the entity\'s other activity in the alert window; if a known change or test does not explain them, escalate.'
const CONFIRMED_ACTION = 'Treat as confirmed (a Sigma rule and the anomaly model agree on this entity) and escalate to incident response.'

/** The recommended action for an alert, by what raised it. */
export function remediationFor(alert: Alert, kind: DetectorKind): string {
  const byRules = entryForRules(rulesOf(alert))
  const byFeatures = entryForFeatures(alert.explanations ?? [])
  switch (kind) {
    case 'sigma': return (byRules?.action ?? GENERIC_ACTION)
    case 'model': return join(byFeatures?.action, reviewEvents(alert))
    case 'correlated': return join(CONFIRMED_ACTION, (byRules ?? byFeatures)?.action, reviewEvents(alert))
    case 'unknown': return GENERIC_ACTION
  }
}

type RuleLike = Pick<MatchedRule, 'title' | 'tags'>

/** The entry for the matched rules: by their ATT&CK tags first, by their titles when no tag has an entry. */
export const entryForRules = (rules: readonly RuleLike[]) =>
  entryForTags(rules.flatMap((r) => r.tags ?? [])) ?? entryForTitles(rules.map((r) => r.title))

/**
 * The entry for the first tag that names a technique an entry lists, in the order the rules list
 * their tags: a rule lists its main technique first ("Hack Tool User Agent": t1190, then t1110).
 */
export function entryForTags(tags: readonly string[]): RemediationEntry | undefined {
  for (const tag of tags) {
    const technique = ATTACK_TECHNIQUE.exec(tag)?.[1]?.toLowerCase()
    const entry = technique && REMEDIATIONS.find((r) => r.techniques?.some((t) => technique === t || technique.startsWith(`${t}.`)))
    if (entry) return entry
  }
  return undefined
}

// Sigma's ATT&CK tags: attack.t1110, attack.t1110.001 (tactics and groups are attack.<name>, attack.g0001).
const ATTACK_TECHNIQUE = /^attack\.(t\d{4}(?:\.\d{3})?)$/i

/** The entry for a set of rule titles: the first entry any title matches. */
export const entryForTitles = (titles: readonly string[]) => REMEDIATIONS.find((r) => r.titles && titles.some((t) => r.titles!.test(t)))

/**
 * The entry for the model's leading explanation that left its training range (those come first, each
 * largest contribution first): one that stood out only against its nearest training rows (a failure
 * ratio lower than theirs), or only by lying in an outer tenth of training, is no ground for an entry's action.
 */
export function entryForFeatures(explanations: readonly AlertExplanation[]): RemediationEntry | undefined {
  const lead = explanations.find((e) => !isNearest(e) && !isOuterTenth(e))?.feature
  return lead === undefined ? undefined : REMEDIATIONS.find((r) => r.features?.includes(lead))
}

// An alert without structured rules (raised before the alerts schema had them) still names its rule in its title.
const rulesOf = (alert: Alert): readonly RuleLike[] => (alert.rules?.length ? alert.rules : [{ title: alert.title }])

function reviewEvents(alert: Alert): string {
  const { kind, id } = alert.entity
  const stoodOut = (alert.explanations ?? []).map((e) => `${e.feature} ${e.value} (${baselineBeside(e)})`)
  const since = new Date(alert.firstSeen).toISOString()
  return `Review the recent events of ${kind} ${id} from ${since}${stoodOut.length ? `; what stood out: ${stoodOut.join(', ')}` : ''}.`
}

/**
 * The training baseline a value stood out against, on the side it left: its p99 above it, its median
 * below it (an alert keeps those two; a value under the median is low for its training, and its p99
 * says nothing of that). A value within both stood out for its rarity (the scorer names a flag set
 * in few training rows), which its range alone would not say, against the training rows nearest
 * the event, whose range it then quotes, or, where nothing else stood out, in an outer tenth of
 * training, beyond its p90 or p10, which it quotes.
 */
function baselineBeside(e: AlertExplanation): string {
  if (isNearest(e)) return `nearest rows of the training sample ${e.nearestLow === e.nearestHigh ? `all ${e.nearestLow}` : `${e.nearestLow} to ${e.nearestHigh}`}`
  if (isOuterTenth(e)) return e.value > e.outerTenth ? `above 90% of training rows, p90 ${e.outerTenth}` : `below 90% of training rows, p10 ${e.outerTenth}`
  if (e.value > e.baselineP99) return `training p99 ${e.baselineP99}`
  if (e.value < e.baselineP50) return `training median ${e.baselineP50}`
  return `rare in training, median ${e.baselineP50}, p99 ${e.baselineP99}`
}

const join = (...parts: (string | undefined)[]) => parts.filter((p) => p !== undefined).join(' ')
