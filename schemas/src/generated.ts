// Generated from schemas/avro/*.avsc by schemas/scripts/generate-types.ts. Do not edit.
/** An alert for one entity and detector. Keyed by entity. An alert whose severity rises is written again, the same alertId with its new severity: keep the latest of an alertId (severityId never falls). */
export interface Alert {
  /** stable: the same entity, detector and window give the same id; a window that continues an open alert (an attack going on) carries that alert's */
  alertId: string
  /** what raised it, e.g. model:default */
  detector: string
  title: string
  /** low, medium, high or critical */
  severity: string
  /** OCSF severity_id: 2 low, 3 medium, 4 high, 5 critical */
  severityId: number
  entity: Entity
  /** event time of the first event that raised it */
  firstSeen: number
  createdAt: number
  score: number
  threshold: number
  modelVersion: string
  /** the anomaly model (MODEL_NAME) behind a model or correlated alert; null for a Sigma rule's */
  model?: null | string
  features: Record<string, number>
  /** why the model flagged it: its top features against their training baseline, in words */
  reasons?: Array<string>
  /** the model's reasons, structured: its top features with observed values and training baselines (OCSF anomaly_analyses), in the score's order */
  explanations?: Array<AlertExplanation>
  /** the Sigma rules that matched, for rule and correlated alerts */
  rules?: Array<MatchedRule>
  evidence: Array<AlertEvidence>
}

export interface Entity {
  kind: string
  id: string
}

export interface AlertExplanation {
  feature: string
  /** the event's value of the feature */
  value: number
  /** median of the feature in the model's training data */
  baselineP50: number
  /** 99th percentile of the feature in the model's training data */
  baselineP99: number
  /** share of the anomaly attributed to this feature, 0-1 */
  contribution: number
  /** for a value usual in training, named because it lies far beyond the values of the rows nearest the event in the k-NN member's sample of training rows: their lowest value of the feature (null: named against the training baselines) */
  nearestLow?: null | number
  /** their highest value of the feature */
  nearestHigh?: null | number
  /** for a value usual by the training range and by the nearest rows, named because no feature was by either and it lies in an outer tenth of the training data: the feature's 90th percentile, which the value exceeds, or its 10th, which it falls below (null otherwise) */
  outerTenth?: null | number
}

export interface MatchedRule {
  /** the Sigma rule's id */
  id: string
  title: string
  /** the rule's level: informational, low, medium, high or critical */
  level: string
  /** detection or correlation */
  kind: string
  /** kept as the Detection Rule License asks */
  author?: null | string
  /** the rule's tags, e.g. attack.t1110.001 */
  tags?: Array<string>
}

export interface AlertEvidence {
  eventId: string
  topic: string
  partition: number
  offset: string
  line: string
  /** every user the event names (its ECS related.user): what a user suppression matches */
  users?: Array<string>
}

/** A message or input that could not be processed, with the reason. Every <topic>.dlq topic carries this schema. */
export interface DeadLetter {
  /** the topic the message came from, or would have gone to for input rejected at the edge */
  sourceTopic: string
  partition?: null | number
  offset?: null | string
  /** the key as text, when it is UTF-8 and kept whole (keyBase64 holds the bytes); the only key of dead letters written before keyBase64 */
  key?: null | string
  /** the headers that are UTF-8 and not repeated, as text, for people (headerList holds every header's bytes); the only headers of dead letters written before headerList */
  headers?: Record<string, string>
  /** the original bytes (or their first bytes, see valueLength), base64 */
  valueBase64: string
  /** length of the original value in bytes */
  valueLength: number
  /** the first bytes as text, for people */
  valuePreview: string
  errorCode: string
  errorMessage: string
  service: string
  /** the sender, for input rejected at the edge */
  peer?: null | string
  failedAt: number
  /** the original key's bytes (or their first bytes, see keyLength), base64; null for a message without a key, and in dead letters written before this field */
  keyBase64?: null | string
  /** length of the original key in bytes; null for no key, and in dead letters written before this field */
  keyLength?: null | number
  /** the original headers in order, a repeated one repeated (or the first ones, see headerCount) */
  headerList?: Array<DeadLetterHeader>
  /** how many headers the original had; null in dead letters written before headerList, whose headers are in headers */
  headerCount?: null | number
}

export interface DeadLetterHeader {
  name: string
  /** the value's bytes, base64; null for a null value */
  valueBase64?: null | string
}

/** One parsed event and its feature vector. Keyed by entity (source IP, else source host name, else host). */
export interface FeatureRecord {
  /** <raw-logs topic>/<partition>/<offset>: stable across redelivery */
  eventId: string
  entity: Entity
  /** from the line; arrival time only when the line has none */
  eventTime: number
  receivedAt: number
  /** the log family whose parser produced the event, or generic */
  family: string
  /** the parsed event in ECS */
  event: EcsEvent
  evidence: RawLogPosition
  vector: FeatureVector
}

/** The normalized event: a subset of Elastic Common Schema, nested as in ECS */
export interface EcsEvent {
  /** @timestamp: event time, ms since epoch, from the line */
  timestamp: number
  message: string
  event: EventInfo
  source?: null | Endpoint
  destination?: null | Endpoint
  user?: null | User
  host?: null | Host
  process?: null | Process
  network?: null | Network
  url?: null | Url
  http?: null | Http
  user_agent?: null | UserAgent
  dns?: null | Dns
  tls?: null | Tls
  observer?: null | Observer
  rule?: null | Rule
  log?: null | Log
  ssh?: null | Ssh
  zeek?: null | Zeek
  related?: Related
}

export interface EventInfo {
  kind: string
  category: Array<string>
  type: Array<string>
  action: string
  /** success, failure or unknown */
  outcome: string
  /** the log family whose parser produced the event */
  module: string
  /** module.log, e.g. zeek.conn, web.access */
  dataset?: null | string
  /** nanoseconds */
  duration?: null | number
  severity?: null | number
  /** the whole original line */
  original: string
}

/** ECS source/destination */
export interface Endpoint {
  ip?: null | string
  port?: null | number
  domain?: null | string
  bytes?: null | number
  packets?: null | number
  geo?: null | Geo
  as?: null | AutonomousSystem
}

/** enrichment from the IP database */
export interface Geo {
  country_iso_code?: null | string
  country_name?: null | string
  city_name?: null | string
  location?: null | GeoPoint
}

export interface GeoPoint {
  lat: number
  lon: number
}

export interface AutonomousSystem {
  number?: null | number
  organization_name?: null | string
}

export interface User {
  name?: null | string
  id?: null | string
  target?: null | TargetUser
}

export interface TargetUser {
  name?: null | string
}

export interface Host {
  name?: null | string
}

export interface Process {
  name?: null | string
  pid?: null | number
  command_line?: null | string
  working_directory?: null | string
}

export interface Network {
  transport?: null | string
  protocol?: null | string
  bytes?: null | number
  packets?: null | number
  direction?: null | string
  community_id?: null | string
}

export interface Url {
  original?: null | string
  path?: null | string
  query?: null | string
  domain?: null | string
}

export interface Http {
  version?: null | string
  request?: null | HttpRequest
  response?: null | HttpResponse
}

export interface HttpRequest {
  method?: null | string
  bytes?: null | number
  referrer?: null | string
}

export interface HttpResponse {
  status_code?: null | number
  bytes?: null | number
}

export interface UserAgent {
  original?: null | string
}

export interface Dns {
  question?: null | DnsQuestion
  response_code?: null | string
  answers?: Array<string>
}

export interface DnsQuestion {
  name?: null | string
  type?: null | string
}

export interface Tls {
  version?: null | string
  cipher?: null | string
  established?: null | boolean
  server?: null | TlsServer
}

export interface TlsServer {
  name?: null | string
}

export interface Observer {
  name?: null | string
  type?: null | string
  ingress_interface?: null | string
  egress_interface?: null | string
}

export interface Rule {
  name?: null | string
}

export interface Log {
  level?: null | string
  syslog?: null | LogSyslog
}

export interface LogSyslog {
  facility?: null | number
  severity?: null | number
  msgid?: null | string
  structured_data?: Array<SdElement>
}

export interface SdElement {
  id: string
  params: Record<string, string>
}

/** sshd detail, under the family's own namespace */
export interface Ssh {
  method?: null | string
  invalid_user?: null | boolean
  attempts?: null | number
  repeated?: null | number
  /** on an sshd verdict, PAM authentication failure, Invalid user or User not allowed line: whether this line is the authentication attempt Vigil counts (the verdict; the PAM failure where its host wrote no verdict in the day before it; the Invalid user or User not allowed line that names its connection, since sshd writes no verdict when the client tries no password; then the connection's verdict that follows is not); null on other lines */
  attempt?: null | boolean
}

/** Zeek detail */
export interface Zeek {
  uid?: null | string
  log?: null | string
  conn_state?: null | string
  history?: null | string
  service?: null | string
  /** conn: payload bytes the originator sent (source.bytes counts IP bytes, headers included); unset where Zeek has none */
  orig_bytes?: null | number
  /** conn: payload bytes the responder sent */
  resp_bytes?: null | number
  note?: null | string
  name?: null | string
}

export interface Related {
  ip?: Array<string>
  user?: Array<string>
}

/** where the event's line is in raw-logs (the line itself is event.event.original) */
export interface RawLogPosition {
  topic: string
  partition: number
  offset: string
}

/** generated from schemas/src/features.ts; edit there */
export interface FeatureVector {
  /** authentication attempts (failed or accepted) by the entity in the window, this event included; an sshd attempt counts once: by its verdict line, by its PAM failure line where the host wrote no verdict in the day before it, or by its `Invalid user` (or `User … not allowed`) line (sshd writes no verdict when the client tries no password); its verdict then does not count again (count) */
  auth_attempts: number
  /** failed authentications by the entity in the window (count) */
  auth_failures: number
  /** failed-authentication rate: auth_failures / auth_attempts over the window; 0 when there were no attempts (ratio) */
  auth_failure_ratio: number
  /** distinct user names the entity tried in the window (HyperLogLog over one-minute buckets) (count) */
  distinct_users: number
  /** attempts by the entity for user names that do not exist on the host, or that sshd refuses as it does those (AllowUsers, DenyUsers), in the window (count) */
  invalid_user_attempts: number
  /** events of any kind from the entity in the window, this event included (count) */
  events_in_window: number
  /** event time since the entity's previous event, capped at the window length (seconds) */
  seconds_since_previous: number
  /** hour of the event time in the configured time zone (FEATURE_TIME_ZONE) (hour 0-23) */
  hour_of_day: number
  /** day of the week of the event time in the configured time zone (day 0-6, 0 = Sunday) */
  day_of_week: number
  /** 1 when the event falls on Saturday or Sunday in the configured time zone (0/1) */
  is_weekend: number
  /** is 1 when the event falls within business hours (BUSINESS_HOURS on BUSINESS_DAYS) in the configured time zone (0/1) */
  is_business_hours: number
  /** authentication attempts by the entity in the minute ending at the event (count/min) */
  auth_attempts_per_minute: number
  /** HTTP requests by the entity over the 10 seconds ending at the event, divided by 10 (requests/s) */
  requests_per_second: number
  /** distinct destination addresses and ports the entity reached in the window (HyperLogLog) (count) */
  distinct_destinations: number
  /** distinct URL paths the entity requested in the window (HyperLogLog) (count) */
  distinct_url_paths: number
  /** share of the entity's HTTP requests in the window answered 4xx (ratio) */
  http_4xx_ratio: number
  /** share of the entity's HTTP requests in the window answered 5xx (ratio) */
  http_5xx_ratio: number
  /** 1 when the source country (IP database) was never seen in a successful login of this user (0/1) */
  geo_new_country_for_user: number
  /** 1 when the source IP was never seen in a successful login of this user (0/1) */
  ip_new_for_user: number
  /** great-circle distance from the source location to the mean location of the user's earlier successful logins; 0 when either is unknown (km) */
  geo_distance_from_usual_km: number
  /** bytes of the event: network.bytes, else source plus destination bytes, else the HTTP response size (bytes) */
  bytes: number
  /** session or request duration (event.duration), e.g. a Zeek connection or an HTTP request time (seconds) */
  duration_seconds: number
  /** Shannon entropy of the requested URL (path and query) (bits/char) */
  url_entropy: number
  /** Shannon entropy of the user agent string (bits/char) */
  user_agent_entropy: number
  /** Shannon entropy of the DNS query name (long random names suggest tunnelling or DGA) (bits/char) */
  dns_query_entropy: number
  /** is 1 when user.name or user.target.name is in PRIVILEGED_USERS (root, admin, ...) (0/1) */
  is_privileged_user: number
  /** is 1 when the URL path starts with one of SENSITIVE_PATHS (/admin, /wp-login.php, /.env, ...) (0/1) */
  is_sensitive_endpoint: number
  /** is 1 when the user agent looks like a web browser (0/1) */
  user_agent_is_browser: number
  /** is 1 when the user agent is a command-line tool or HTTP library (curl, wget, python-requests, Go, ...) (0/1) */
  user_agent_is_cli: number
  /** is 1 when the user agent names a vulnerability scanner (nikto, sqlmap, nmap, Netsparker, w3af, ...) (0/1) */
  user_agent_is_scanner: number
  /** is 1 when the user agent declares a crawler or bot (Googlebot, bingbot, ...) (0/1) */
  user_agent_is_bot: number
}

/** An analyst's verdict on an alert, as the alerter's API stored it (the latest per alert counts). Keyed by alert id. */
export interface Verdict {
  alertId: string
  verdict: 'true_positive' | 'false_positive'
  note?: null | string
  analyst?: null | string
  /** what raised the alert, e.g. model:default or sigma:<rule id> */
  detector: string
  /** the model (or rule set) version that raised it */
  modelVersion: string
  entity: Entity
  /** event time span of the alert when the verdict was given */
  firstSeen: number
  lastSeen: number
  decidedAt: number
}

/** Which model version scorers must run. Compacted; the key is the model's name for the live version and '<model>/shadow' for the shadow one, so the last record per key is what runs. */
export interface ModelControl {
  /** the model's name, e.g. default */
  model: string
  /** the version to run; the artifact is in the Postgres model registry */
  version: string
  algorithm: string
  /** sha256 of the artifact bytes; scorers refuse an artifact that does not match */
  sha256: string
  /** the input vector, in order */
  featureNames: Array<string>
  publishedAt: number
  /** why it was published: trained, promoted, rolled back */
  reason: string
  /** live: scorers score with it; shadow: scorers also score with it and write those scores to scores-shadow only. A shadow record with an empty version ends the shadow run */
  role?: string
}

/** One log line as received, before parsing. Keyed by the sending host. */
export interface RawLog {
  /** the original line, exactly as received (valid UTF-8, no trailing newline) */
  line: string
  /** when the ingestor received it */
  receivedAt: number
  /** how it arrived: syslog-udp, syslog-tcp, zeek-tcp, file, kafka */
  transport: string
  /** address of the sender, host:port */
  peer?: null | string
  /** the parsed syslog header, when the line arrived as syslog */
  syslog?: null | SyslogHeader
  /** set when the line is Zeek output */
  zeek?: null | ZeekContext
}

export interface SyslogHeader {
  /** RFC5424 or RFC3164 */
  format: string
  facility: number
  severity: number
  /** as written in the line */
  timestamp?: null | string
  hostname?: null | string
  appName?: null | string
  procId?: null | string
  msgId?: null | string
  structuredData?: Array<SdElement>
  message: string
}

export interface ZeekContext {
  /** the Zeek log type: conn, dns, http, ssh, ssl, notice, weird, ... */
  log: string
  /** for TSV lines: the #fields header the line belongs to; null for JSON lines */
  fields?: null | Array<string>
  /** for TSV lines: the #types header */
  types?: null | Array<string>
}

/** The model's verdict on one event. Keyed by entity. */
export interface Score {
  eventId: string
  entity: Entity
  eventTime: number
  /** when the line reached the ingestor */
  receivedAt: number
  scoredAt: number
  family: string
  /** event.action of the scored event */
  action: string
  /** calibrated anomaly score in [0,1]: the share of training events that scored lower */
  score: number
  /** the model's own score */
  rawScore: number
  modelVersion: string
  /** the model (the scorer's MODEL_NAME) whose version scored it */
  model?: string
  /** the model version's alert threshold on score: at or above it the event is anomalous */
  threshold?: number
  /** each ensemble member's calibrated score in [0,1], by member name */
  members?: Record<string, number>
  /** the features that contributed most to the score: those whose values left their training range, then those far beyond the nearest training rows (nearestLow), each largest first; where neither names one, those in an outer tenth of training (outerTenth) */
  explanations?: Array<Explanation>
  /** the input vector by feature name */
  features: Record<string, number>
  evidence: Evidence
}

export interface Explanation {
  feature: string
  /** the event's value of the feature */
  value: number
  /** median of the feature in the model's training data */
  baselineP50: number
  /** 99th percentile of the feature in the model's training data */
  baselineP99: number
  /** share of the anomaly attributed to this feature, 0-1 */
  contribution: number
  /** for a value usual in training, named because it lies far beyond the values of the rows nearest the event in the k-NN member's sample of training rows: their lowest value of the feature (null: named against the training baselines) */
  nearestLow?: null | number
  /** their highest value of the feature */
  nearestHigh?: null | number
  /** for a value usual by the training range and by the nearest rows, named because no feature was by either and it lies in an outer tenth of the training data: the feature's 90th percentile, which the value exceeds, or its 10th, which it falls below (null otherwise) */
  outerTenth?: null | number
  /** the same, in words, e.g. 'auth_failure_ratio 0.94, training p99 0.08' */
  text: string
}

export interface Evidence {
  topic: string
  partition: number
  offset: string
  line: string
  /** every user the event names (its ECS related.user: the user acting and the one acted as) */
  users?: Array<string>
}
