import type { Alert, AlertExplanation } from '@vigil/schemas'
import type { DetectorKind } from './detector-kind.ts'

/**
 * A recommended action, for alerts whose Sigma rule titles match `titles` or whose model
 * explanation leads with one of `features`. Alerts carry no rule tags, so rules are told apart by
 * title (SigmaHQ titles name the technique: "SQL Injection Strings In URI", "Hack Tool User Agent").
 */
export interface RemediationEntry {
  name: string
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
    titles: /brute.?force|failed ssh login|password guess/i,
    features: ['auth_failures', 'auth_failure_ratio', 'invalid_user_attempts', 'auth_attempts', 'auth_attempts_per_minute', 'distinct_users'],
    action: 'Block the source address at the firewall (or with fail2ban), then check the auth log for any successful login from it ("Accepted password" or "Accepted publickey" from that address); if there is one, treat that account as compromised.',
  },
  {
    name: 'ssh-login',
    titles: /successful ssh login|accepted (password|publickey)/i,
    features: ['geo_new_country_for_user', 'ip_new_for_user', 'geo_distance_from_usual_km'],
    action: 'Confirm with the account owner that the login (account, source address, time) was theirs; if not, end the session, reset the credentials and block the source address.',
  },
  {
    name: 'sshd-exploit',
    titles: /\bssh/i,
    action: 'Check that OpenSSH on the host is patched against what the rule names, block the source address at the firewall and look for a successful login from it.',
  },
  {
    name: 'malware-c2',
    titles: /malware|\bc2\b|beacon|backdoor|miner|cobalt strike|\bapt\b|stealer|tor proxies/i,
    features: ['bytes', 'duration_seconds', 'distinct_destinations', 'dns_query_entropy'],
    action: 'Isolate the host that made the traffic, collect its running processes and open connections, and block the destination at the proxy or firewall.',
  },
  {
    name: 'webshell',
    titles: /web ?shell/i,
    action: 'Look for the web shell on the server (the requested path), take the host out of service if it is there, block the source address and review the server for other changed files.',
  },
  {
    name: 'web-scanner',
    titles: /scan|recon|enumeration|user.?agent|hack ?tool|sql injection|cross site scripting|template injection|path traversal|java payload|jndi|log4j|shellshock|fuzzing/i,
    features: ['requests_per_second', 'distinct_url_paths', 'http_4xx_ratio', 'http_5xx_ratio', 'url_entropy', 'user_agent_is_scanner', 'user_agent_is_cli', 'user_agent_is_bot', 'user_agent_entropy', 'is_sensitive_endpoint'],
    action: 'Block or rate-limit the source address at the reverse proxy or WAF, check which of its requests got a 2xx response (those reached the application) and confirm the targeted application is patched.',
  },
  {
    name: 'host-tampering',
    titles: /privilege|sudo|crontab|history|syslog|security tools|user has been created|ld\.so|reverse shell|\/dev\/tcp/i,
    action: 'Find who ran the command on the host (sudo, su and login records), check the host is patched against what the rule names, undo what it changed and reset the credentials of the accounts involved.',
  },
  {
    name: 'web-exploit',
    titles: /cve-\d{4}-\d+|exploit|\brce\b|command injection|auth bypass/i,
    action: 'Confirm the targeted product is patched against the vulnerability the rule names, check whether the requests from the source got a 2xx response, and block the source address.',
  },
]

const GENERIC_ACTION = 'Review the evidence lines and the entity\'s other activity in the alert window; if a known change or test does not explain them, escalate.'
const CONFIRMED_ACTION = 'Treat as confirmed (a Sigma rule and the anomaly model agree on this entity) and escalate to incident response.'

/** The recommended action for an alert, by what raised it. */
export function remediationFor(alert: Alert, kind: DetectorKind): string {
  const byRules = entryForTitles(ruleTitles(alert))
  const byFeatures = entryForFeatures(alert.explanations ?? [])
  switch (kind) {
    case 'sigma': return (byRules?.action ?? GENERIC_ACTION)
    case 'model': return join(byFeatures?.action, reviewEvents(alert))
    case 'correlated': return join(CONFIRMED_ACTION, (byRules ?? byFeatures)?.action, reviewEvents(alert))
    case 'unknown': return GENERIC_ACTION
  }
}

/** The entry for a set of rule titles: the first entry any title matches. */
export const entryForTitles = (titles: readonly string[]) => REMEDIATIONS.find((r) => r.titles && titles.some((t) => r.titles!.test(t)))

/** The entry for the model's leading explanation (explanations come largest contribution first). */
export function entryForFeatures(explanations: readonly AlertExplanation[]): RemediationEntry | undefined {
  const lead = explanations[0]?.feature
  return lead === undefined ? undefined : REMEDIATIONS.find((r) => r.features?.includes(lead))
}

// An alert without structured rules (raised before the alerts schema had them) still names its rule in its title.
const ruleTitles = (alert: Alert) => (alert.rules?.length ? alert.rules.map((r) => r.title) : [alert.title])

function reviewEvents(alert: Alert): string {
  const { kind, id } = alert.entity
  const stoodOut = (alert.explanations ?? []).map((e) => `${e.feature} ${e.value} (training median ${e.baselineP50}, p99 ${e.baselineP99})`)
  const since = new Date(alert.firstSeen).toISOString()
  return `Review the recent events of ${kind} ${id} from ${since}${stoodOut.length ? `; what stood out: ${stoodOut.join(', ')}` : ''}.`
}

const join = (...parts: (string | undefined)[]) => parts.filter((p) => p !== undefined).join(' ')
