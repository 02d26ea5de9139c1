-- Entities whose activity must not teach the model what normal looks like: confirmed alerts and
-- Sigma hits, filled by the alerter. A training window leaves out every row of an entity flagged
-- at any time within that window. The alerter's migrations create it too, with the same definition
-- (services/alerter/migrations/003_flagged_entities.sql): whichever service migrates first creates
-- it, and the lock keeps their two CREATE statements from racing.
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
