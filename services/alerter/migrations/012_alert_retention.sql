-- Retention (src/adapters/alert-retention.ts) deletes an alert once nothing has happened to it for
-- ALERT_RETENTION_DAYS. updated_at is when its row last changed, by the wall clock: a trigger sets
-- it, so every writer (an event folded in, a redelivery, routing, a verdict, a suppression) counts
-- as activity without having to remember to. last_seen alone would not do: it is event time, and a
-- replayed or late event folds into an alert without moving it. The column is added without a
-- default, so rows older than this migration keep it null (no rewrite of the table) and their
-- activity is read from last_seen, created_at and resolved_at (greatest() skips nulls); new rows get now().
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS updated_at timestamptz;
ALTER TABLE alerts ALTER COLUMN updated_at SET DEFAULT now();

CREATE OR REPLACE FUNCTION alerts_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER alerts_set_updated_at BEFORE UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION alerts_set_updated_at();

-- The retention's search, quietest first: the expression is alert-retention.ts's LAST_ACTIVITY, verbatim.
CREATE INDEX IF NOT EXISTS alerts_last_activity ON alerts ((greatest(last_seen, created_at, resolved_at, updated_at)));
-- A deleted alert sets its suppressions' alert_id to null (010): without this, each one scans suppressions.
CREATE INDEX IF NOT EXISTS suppressions_alert ON suppressions (alert_id);
