-- Entities whose activity must not teach the model what normal looks like: Sigma hits and
-- confirmed alerts. The alerter writes them; a training window in the trainer leaves out every row
-- of an entity flagged at any time within that window.
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
