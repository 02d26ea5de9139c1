-- Alerts, one row per entity, detector and window; alert_events makes a redelivered score count once.
CREATE TABLE IF NOT EXISTS alerts (
  alert_id      text        PRIMARY KEY,
  detector      text        NOT NULL,
  entity_kind   text        NOT NULL,
  entity_id     text        NOT NULL,
  title         text        NOT NULL,
  severity      text        NOT NULL,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  event_count   integer     NOT NULL DEFAULT 1,
  max_score     double precision NOT NULL,
  model_version text        NOT NULL,
  body          jsonb       NOT NULL,   -- the alert as first published
  published     boolean     NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alerts_entity ON alerts (entity_kind, entity_id, first_seen DESC);
CREATE TABLE IF NOT EXISTS alert_events (
  alert_id  text NOT NULL REFERENCES alerts (alert_id),
  event_id  text NOT NULL,
  PRIMARY KEY (alert_id, event_id)
);
