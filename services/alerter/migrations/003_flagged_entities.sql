-- Entities flagged by Sigma hits (the alerter writes them; the trainer leaves them out of training).
-- The trainer's migrations create this table too (services/trainer/migrations/003_flagged_entities.sql),
-- with this same definition: whichever service migrates first creates it. The lock serializes the two
-- services' CREATE statements (two concurrent CREATE TABLE IF NOT EXISTS can both try to insert the
-- type and one fails); it is released when this migration's transaction ends.
SELECT pg_advisory_xact_lock(hashtext('vigil:flagged_entities'));
CREATE TABLE IF NOT EXISTS flagged_entities (
  entity_kind  text        NOT NULL,
  entity_id    text        NOT NULL,
  flagged_from timestamptz NOT NULL,   -- event time the flagged activity began
  flagged_to   timestamptz,            -- event time it ended; null while it goes on
  reason       text        NOT NULL,   -- e.g. 'alert confirmed', 'sigma hit'
  source       text        NOT NULL,   -- what flagged it, e.g. 'alert:<alert id>', 'sigma:<rule id>': one row per entity and source
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entity_kind, entity_id, source),
  CHECK (flagged_to IS NULL OR flagged_to >= flagged_from)
);
