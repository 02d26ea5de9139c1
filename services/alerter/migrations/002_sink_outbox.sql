-- The notification outbox: one row per alert and sink it is routed to (Slack, email, webhook).
-- The primary key makes enqueueing idempotent, so a replayed score never notifies twice. A row
-- refers to its alert, so a delivery renders the alert and its event count as they are then.
CREATE TABLE IF NOT EXISTS sink_outbox (
  alert_id         text        NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
  sink             text        NOT NULL,
  status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer     NOT NULL DEFAULT 0,     -- deliveries started (claims), the last one included
  next_attempt_at  timestamptz NOT NULL DEFAULT now(), -- due from then (backoff, Retry-After)
  locked_until     timestamptz,                        -- claimed by a dispatcher until then; a crashed one's claim lapses
  last_error       text,
  enqueued_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  failed_at        timestamptz,                        -- refused for good (HTTP 4xx, SMTP 5xx): last_error says why
  PRIMARY KEY (alert_id, sink)
);
CREATE INDEX IF NOT EXISTS sink_outbox_due ON sink_outbox (sink, next_attempt_at) WHERE status = 'pending';
