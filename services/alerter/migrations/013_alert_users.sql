-- Every user the alert's events named (ECS related.user, carried on each event's evidence as
-- `users`), kept whole where the body cites only the first ALERT_MAX_EVIDENCE events: a spray of
-- ten guesses then a login as root names root in the eleventh. The user suppression scope and the
-- API's user filter read this column, which the GIN index serves (jsonb in every body was scanned).
--
-- Added without a default for the rows already there, so the table is not rewritten and not held
-- locked: they keep users null until the alerter's backfill (src/adapters/alert-users.ts) reads
-- them from their evidence, in batches; meanwhile the user scope reads their evidence (the partial
-- index finds them). New rows get their users as they are written.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS users text[];
ALTER TABLE alerts ALTER COLUMN users SET DEFAULT '{}';
CREATE INDEX IF NOT EXISTS alerts_users ON alerts USING gin (users);
CREATE INDEX IF NOT EXISTS alerts_users_pending ON alerts (alert_id) WHERE users IS NULL;

-- The backfill is not activity: with vigil.users_backfill set in its transaction, the trigger of 012
-- leaves updated_at as it was (retention would otherwise wait ALERT_RETENTION_DAYS more for every alert).
CREATE OR REPLACE FUNCTION alerts_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('vigil.users_backfill', true) = 'on' THEN
    RETURN NEW;
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
