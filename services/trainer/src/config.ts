import { baseConfig, flag, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the trainer that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig,
  MODEL_NAME: z.string().min(1).default('default'), // the model this trainer builds and publishes
  // The ensemble: members as kind:weight, comma-separated. Defaults from bench/models/REPORT.md ("Choosing
  // the default ensemble"): of the weightings tried there, this one met the accuracy goal in the most
  // cells, ties broken by mean ROC-AUC and PR-AUC; knn-distance, the strongest member and the slowest,
  // carries the most weight. 'isolation-forest:1,hbos:1,gaussian-mixture:1' (the former default)
  // scores 2-6x faster and detects less.
  TRAIN_MEMBERS: z.string().default('isolation-forest:1,gaussian-mixture:1,knn-distance:4'),
  // Extra members: a JSON file listing ONNX models [{ name, file, inputFeatures, output?, outputColumn?, direction, weight }]
  ONNX_MEMBERS_FILE: z.string().optional(),
  TRAIN_SEED: z.coerce.number().int().default(1), // the same history and seed train the same version
  MODEL_THRESHOLD: z.coerce.number().min(0).max(1).optional(), // alert at or above this score; when unset, set by MODEL_TARGET_ALERT_RATE
  MODEL_TARGET_ALERT_RATE: z.coerce.number().gt(0).lt(1).default(0.001), // share of held-out training events the threshold lets alert
  TRAIN_MIN_ROWS: z.coerce.number().int().min(10).default(200), // no model is trained on less history
  TRAIN_MAX_ROWS: z.coerce.number().int().min(10).default(20_000), // rows drawn evenly from the window, at most, train a version (and make a holdout, and each side of a drift measure)
  TRAIN_WINDOW_MS: z.coerce.number().int().min(1000).default(7 * 86_400_000), // event time trained on, before the holdout
  TRAIN_HOLDOUT_MS: z.coerce.number().int().min(60_000).default(3_600_000), // the newest event time, kept out of training to evaluate on (0 judged each candidate on one millisecond's rows)
  TRAIN_EXCLUDE_FLAGGED: flag.default(true), // leave out entities flagged (Sigma hits, confirmed alerts) in the window, and redriven dead letters
  TRAIN_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000), // retrain this often when new history arrived
  TRAIN_SETTLE_MS: z.coerce.number().int().min(0).default(3_000), // the first model waits until history stops growing this long
  TRAIN_FIRST_MODEL_MAX_WAIT_MS: z.coerce.number().int().min(0).default(60_000), // or, under steady traffic that never stops, this long after TRAIN_MIN_ROWS rows arrived
  TRAIN_CHECK_MS: z.coerce.number().int().min(100).default(1_000), // how often the schedule looks
  TRAIN_REQUEST_STALE_MS: z.coerce.number().int().min(1000).default(600_000), // a claimed retrain request unfinished this long is claimed again
  // The gate: a candidate is published only when not worse than the live version by this margin.
  GATE_MARGIN: z.coerce.number().min(0).max(1).default(0.02), // on ROC-AUC of flagged holdout events, when there are some
  GATE_ALERT_RATE_FACTOR: z.coerce.number().min(1).default(2), // holdout alert rate at most this many times the live version's ...
  GATE_ALERT_RATE_FLOOR: z.coerce.number().min(0).max(1).default(0.01), // ... or at most this rate, whichever is higher
  PUBLISH_AS: z.enum(['live', 'shadow']).default('live'), // shadow: a passing candidate first runs beside the live version
  SHADOW_REVIEW_MS: z.coerce.number().int().min(1000).default(3_600_000), // how long a shadow version runs before it is reviewed
  SHADOW_MIN_EVENTS: z.coerce.number().int().min(1).default(500), // events both versions scored, at least, for a review
  SHADOW_MAX_SCORE_PSI: z.coerce.number().gt(0).default(0.25), // the shadow version's scores may differ from the live version's by at most this PSI, over the events both scored
  DRIFT_PSI_THRESHOLD: z.coerce.number().gt(0).default(0.25), // retrain when a feature's PSI passes this
  DRIFT_CHECK_MS: z.coerce.number().int().min(1000).default(300_000), // how often drift is measured
  DRIFT_WINDOW_MS: z.coerce.number().int().min(1000).default(3_600_000), // the recent window compared with training
  HISTORY_RETENTION_DAYS: z.coerce.number().int().min(0).default(30), // days kept behind the newest event (capped at now); 0 keeps all
  HISTORY_RETENTION_CHECK_MS: z.coerce.number().int().min(1000).default(3_600_000), // how often old day partitions are dropped
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
