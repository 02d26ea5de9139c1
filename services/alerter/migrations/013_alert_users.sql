-- Every user the alert's events named (ECS related.user, carried on each event's evidence as
-- `users`), kept whole where the body cites only the first ALERT_MAX_EVIDENCE events: a spray of
-- ten guesses then a login as root names root in the eleventh. The user suppression scope and the
-- API's user filter read this column, which the GIN index serves (jsonb in every body was scanned).
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS users text[] NOT NULL DEFAULT '{}';

-- Alerts stored before: the users their cited events name. Not activity (012's trigger would make
-- every alert look written today, and retention wait another ALERT_RETENTION_DAYS for all of them).
ALTER TABLE alerts DISABLE TRIGGER alerts_set_updated_at;
UPDATE alerts SET users = named.users
FROM (
  SELECT a.alert_id, array_agg(DISTINCT u #>> '{}') AS users
  FROM alerts a
  CROSS JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(a.body->'evidence') = 'array' THEN a.body->'evidence' ELSE '[]'::jsonb END) e
  CROSS JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(e->'users') = 'array' THEN e->'users' ELSE '[]'::jsonb END) u
  WHERE jsonb_typeof(u) = 'string'
  GROUP BY a.alert_id
) named
WHERE alerts.alert_id = named.alert_id;
ALTER TABLE alerts ENABLE TRIGGER alerts_set_updated_at;

CREATE INDEX IF NOT EXISTS alerts_users ON alerts USING gin (users);
