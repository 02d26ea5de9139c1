-- Analysts' verdicts on alerts, as the feedback topic carries them (the latest per alert counts).
-- A false positive says the entity behaved normally over the alert's span: a flag the same detector
-- set on it there no longer keeps its rows out of training (adapters/feature-history.ts).
CREATE TABLE IF NOT EXISTS analyst_verdicts (
  alert_id      text        PRIMARY KEY,
  verdict       text        NOT NULL CHECK (verdict IN ('true_positive', 'false_positive')),
  detector      text        NOT NULL,
  model_version text        NOT NULL,
  entity_kind   text        NOT NULL,
  entity_id     text        NOT NULL,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  decided_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS analyst_verdicts_entity ON analyst_verdicts (entity_kind, entity_id) WHERE verdict = 'false_positive';
