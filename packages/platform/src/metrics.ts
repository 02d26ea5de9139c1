import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Every metric a service exports, named once. Names follow app_<thing>_<unit>; labels are
 * bounded (service, group, topic, partition, outcome, code), never per message or per entity.
 */
export function createMetrics(service: string) {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    messagesIn: new Counter({ name: 'app_messages_in_total', help: 'messages consumed', labelNames: ['topic'], registers: [registry] }),
    messagesOut: new Counter({ name: 'app_messages_out_total', help: 'messages produced', labelNames: ['topic'], registers: [registry] }),
    messagesFailed: new Counter({
      name: 'app_messages_failed_total', help: 'messages or inputs dead-lettered, by reason', labelNames: ['topic', 'code'], registers: [registry],
    }),
    inputRefused: new Counter({
      name: 'app_input_refused_total',
      help: 'inputs refused at the edge because the buffer towards Kafka was full, by transport: only senders that cannot be held back (syslog UDP) are refused',
      labelNames: ['transport'], registers: [registry],
    }),
    batchRetries: new Counter({ name: 'app_batch_retries_total', help: 'batches given back for a retry after a transient failure', labelNames: ['topic', 'code'], registers: [registry] }),
    // Set by consumer-lag.ts from the broker; summed over a deployment's pods by (group, topic), it is the LAG kafka-consumer-groups shows.
    consumerLag: new Gauge({
      name: 'app_consumer_lag_messages', help: 'messages between the group\'s committed offset and the partition\'s end, for the partitions assigned to this instance',
      labelNames: ['group', 'topic', 'partition'], registers: [registry],
    }),
    batchDuration: new Histogram({
      name: 'app_batch_duration_seconds', help: 'time to process one consumed batch, output produced', labelNames: ['topic'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    events: new Counter({
      name: 'app_events_total', help: 'events parsed, by log family; parsed="false" when the family did not know the line\'s shape', labelNames: ['family', 'parsed'], registers: [registry],
    }),
    eventsDatedAhead: new Counter({
      name: 'app_events_dated_ahead_total', help: 'events whose own time was too far after their arrival, by log family: dated at their arrival instead', labelNames: ['family'], registers: [registry],
    }),
    eventsLate: new Counter({
      name: 'app_events_late_total',
      help: 'events that came later than LATE_EVENT_GRACE_SECONDS behind their entity\'s newest, by log family: featurized on a window already trimmed, so their counts fall short',
      labelNames: ['family'], registers: [registry],
    }),
    modelVersion: new Gauge({ name: 'app_model_version_info', help: '1 for the model version this instance runs, by role (live or shadow)', labelNames: ['model', 'version', 'role'], registers: [registry] }),
    featureDrift: new Gauge({
      name: 'app_feature_psi', help: 'population stability index of each feature, recent window against the live version\'s training window', labelNames: ['model', 'feature'], registers: [registry],
    }),
    modelEvaluations: new Counter({
      name: 'app_model_evaluations_total', help: 'candidate versions evaluated by the gate, by outcome (accepted, rejected)', labelNames: ['model', 'outcome'], registers: [registry],
    }),
    sinkEnqueued: new Counter({ name: 'app_sink_enqueued_total', help: 'alerts routed to a notification sink', labelNames: ['sink'], registers: [registry] }),
    sinkDeliveries: new Counter({
      name: 'app_sink_deliveries_total', help: 'notification delivery attempts, by outcome: delivered, retried or failed (refused for good)', labelNames: ['sink', 'outcome'], registers: [registry],
    }),
    sinkDeliveryDuration: new Histogram({
      name: 'app_sink_delivery_duration_seconds', help: 'time for a sink to accept a notification', labelNames: ['sink'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    sinkBacklog: new Gauge({ name: 'app_sink_backlog_notifications', help: 'notifications neither delivered nor failed, per sink', labelNames: ['sink'], registers: [registry] }),
    sinkBacklogAge: new Gauge({ name: 'app_sink_backlog_age_seconds', help: 'age of the oldest notification neither delivered nor failed', labelNames: ['sink'], registers: [registry] }),
    sigmaRules: new Gauge({ name: 'app_sigma_rules', help: 'Sigma rules by rule set and state: loaded, correlation, or skipped:<reason>', labelNames: ['rule_set', 'state'], registers: [registry] }),
    sigmaMatches: new Counter({ name: 'app_sigma_matches_total', help: 'Sigma rule hits: detections matched and correlations fired', labelNames: ['kind'], registers: [registry] }),
    alertsPublished: new Counter({
      name: 'app_alerts_published_total', help: 'alerts written to the alerts topic: new ones, and severity rises (the same alertId again)', labelNames: ['kind'], registers: [registry],
    }),
    alertsSuppressed: new Counter({ name: 'app_alerts_suppressed_total', help: 'alerts an active suppression resolved at once (stored, never notified)', labelNames: ['detector'], registers: [registry] }),
    alertsDeleted: new Counter({
      name: 'app_alerts_deleted_total', help: 'alerts deleted past ALERT_RETENTION_DAYS with their events, notifications and verdicts, by the status they had (open, resolved)',
      labelNames: ['status'], registers: [registry],
    }),
    alertVerdicts: new Gauge({ name: 'app_alert_verdicts', help: 'analyst verdicts stored, by detector and verdict', labelNames: ['detector', 'verdict'], registers: [registry] }),
    alertFalsePositiveRatio: new Gauge({
      name: 'app_alert_false_positive_ratio', help: 'false positives over all verdicts, per detector (a Sigma rule or a model)', labelNames: ['detector'], registers: [registry],
    }),
    suppressionsActive: new Gauge({ name: 'app_suppressions_active', help: 'suppressions the alerter applies', registers: [registry] }),
    apiRequests: new Counter({ name: 'app_api_requests_total', help: 'feedback API requests answered, by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    ready: new Gauge({ name: 'app_ready', help: '1 when the service is ready to work', registers: [registry] }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
