-- Retraining asked for by an operator (models-cli retrain). The trainer claims the oldest open
-- request on its schedule's next look; a claim by an instance that died is taken over once stale.
CREATE TABLE training_requests (
  id           bigserial   PRIMARY KEY,
  model        text        NOT NULL,
  reason       text        NOT NULL,
  requested_by text        NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  claimed_by   text,                   -- trainer instance id
  claimed_at   timestamptz,
  finished_at  timestamptz,
  version      text,                   -- the version it trained
  error        text                    -- why it trained none
);
CREATE INDEX training_requests_open ON training_requests (model, id) WHERE finished_at IS NULL;
