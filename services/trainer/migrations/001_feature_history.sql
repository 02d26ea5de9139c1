-- Every feature record the trainer has seen: the training history.
CREATE TABLE IF NOT EXISTS feature_history (
  event_id     text             PRIMARY KEY,          -- raw-logs topic/partition/offset: a redelivery is stored once
  entity_kind  text             NOT NULL,
  entity_id    text             NOT NULL,
  event_time   timestamptz      NOT NULL,
  received_at  timestamptz      NOT NULL,
  family       text             NOT NULL,
  action       text             NOT NULL,
  feature_names text[]          NOT NULL,
  vector       double precision[] NOT NULL,
  stored_at    timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feature_history_stored_at ON feature_history (stored_at DESC);
