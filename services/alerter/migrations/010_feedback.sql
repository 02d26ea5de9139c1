-- Analyst feedback: an alert's status, its verdict, and suppressions.
-- An alert is open until a verdict or a suppression resolves it; `resolution` says which.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved'));
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolution text;      -- 'true_positive', 'false_positive' or 'suppressed'
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS suppression_id bigint; -- the suppression that resolved it
CREATE INDEX IF NOT EXISTS alerts_last_seen ON alerts (last_seen DESC);
CREATE INDEX IF NOT EXISTS alerts_created_at ON alerts (created_at DESC);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (created_at) WHERE status = 'open';

-- What analysts said is not worth an alert, until it expires or is revoked. Matching is in
-- src/api/suppression-match.ts: entity (id, and kind when given), cidr (entities whose id is an IP
-- in it), user (user.name entities), rule (detector sigma:<value>), detector (the detector itself).
CREATE TABLE IF NOT EXISTS suppressions (
  suppression_id  bigserial   PRIMARY KEY,
  scope           text        NOT NULL CHECK (scope IN ('entity', 'cidr', 'user', 'rule', 'detector')),
  value           text        NOT NULL,   -- canonical: a CIDR as network/prefix, a rule id without its sigma: prefix
  entity_kind     text,                   -- entity scope only; null matches every kind
  reason          text        NOT NULL,
  alert_id        text        REFERENCES alerts (alert_id) ON DELETE SET NULL, -- the alert that prompted it
  created_by      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  revoked_at      timestamptz,
  CHECK (entity_kind IS NULL OR scope = 'entity'),
  CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS suppressions_live ON suppressions (expires_at) WHERE revoked_at IS NULL;
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_suppression_fk;
ALTER TABLE alerts ADD CONSTRAINT alerts_suppression_fk FOREIGN KEY (suppression_id) REFERENCES suppressions (suppression_id);

-- One verdict per alert (the latest), with what the trainer needs copied in so it reads one table:
-- false positives tell it which entity and time span to down-weight, for which detector and model
-- version. `published` is set once the feedback topic acknowledged this verdict.
CREATE TABLE IF NOT EXISTS alert_verdicts (
  alert_id       text        PRIMARY KEY REFERENCES alerts (alert_id),
  verdict        text        NOT NULL CHECK (verdict IN ('true_positive', 'false_positive')),
  note           text,
  analyst        text,
  detector       text        NOT NULL,
  model_version  text        NOT NULL,
  entity_kind    text        NOT NULL,
  entity_id      text        NOT NULL,
  first_seen     timestamptz NOT NULL,   -- event time span of the alert when the verdict was given
  last_seen      timestamptz NOT NULL,
  decided_at     timestamptz NOT NULL DEFAULT now(),
  published      boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS alert_verdicts_unpublished ON alert_verdicts (decided_at) WHERE NOT published;
CREATE INDEX IF NOT EXISTS alert_verdicts_entity ON alert_verdicts (entity_kind, entity_id, first_seen);
