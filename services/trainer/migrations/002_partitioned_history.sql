-- The history partitioned by day of event time (UTC), so retention drops whole days instead of
-- deleting rows, and a training window reads only the days it covers.
--
-- Partitions are made on demand by ensure_day_partitions and dropped by drop_day_partitions_before.
-- Both take one advisory lock per partitioned table for the rest of their transaction, so two writers
-- creating the same day, or a writer and the retention job, are serialised instead of failing.

CREATE OR REPLACE FUNCTION ensure_day_partitions(parent text, days date[]) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  day date;
  part text;
BEGIN
  FOREACH day IN ARRAY days LOOP
    part := parent || '_p' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    PERFORM pg_advisory_xact_lock(hashtext('history-partitions:' || parent));
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    BEGIN
      -- Bounds are UTC midnights written with their offset, so the session's TimeZone cannot shift them.
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent,
        to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
      RETURN NEXT part;
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
      -- A writer that committed this day between our look and our create: the day exists, as wanted.
      NULL;
    END;
  END LOOP;
END $$;

-- Drops the day partitions of `parent` whose whole day lies before `cutoff`, and their counts.
CREATE OR REPLACE FUNCTION drop_day_partitions_before(parent text, cutoff date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('history-partitions:' || parent));
  FOR part IN
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(parent)
      AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
      AND to_date(right(c.relname, 8), 'YYYYMMDD') < cutoff
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    RETURN NEXT part;
  END LOOP;
  DELETE FROM history_day_counts WHERE table_name = parent AND day < cutoff;
END $$;

-- Rows stored per table and day, kept in the storing transaction: the trainer's schedule asks how
-- much history there is every second, which a count(*) over every partition would make expensive.
CREATE TABLE history_day_counts (
  table_name     text        NOT NULL,
  day            date        NOT NULL,   -- UTC day of event time: the partition's day
  rows           bigint      NOT NULL,
  last_stored_at timestamptz NOT NULL,
  PRIMARY KEY (table_name, day)
);

-- The feature names a vector was computed under, stored once instead of on every row.
CREATE TABLE feature_sets (
  id         text        PRIMARY KEY,    -- first 16 hex digits of sha256 of the names joined by ','
  names      text[]      NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE feature_history RENAME TO feature_history_001;
ALTER INDEX feature_history_pkey RENAME TO feature_history_001_pkey;
ALTER INDEX feature_history_stored_at RENAME TO feature_history_001_stored_at;

CREATE TABLE feature_history (
  event_id     text               NOT NULL,  -- raw-logs topic/partition/offset
  entity_kind  text               NOT NULL,
  entity_id    text               NOT NULL,
  event_time   timestamptz        NOT NULL,
  received_at  timestamptz        NOT NULL,
  family       text               NOT NULL,
  action       text               NOT NULL,
  feature_set  text               NOT NULL,  -- feature_sets.id
  vector       double precision[] NOT NULL,
  stored_at    timestamptz        NOT NULL DEFAULT now(),
  -- A redelivered record has the same event id and, parsed from the same line, the same event time.
  PRIMARY KEY (event_time, event_id)
) PARTITION BY RANGE (event_time);
CREATE INDEX feature_history_stored_at ON feature_history (stored_at);

-- What 001 stored, moved over.
INSERT INTO feature_sets (id, names)
SELECT DISTINCT ON (id) id, names FROM (
  SELECT left(encode(sha256(convert_to(array_to_string(feature_names, ','), 'UTF8')), 'hex'), 16) AS id, feature_names AS names
  FROM feature_history_001
) s;
SELECT ensure_day_partitions('feature_history', ARRAY(SELECT DISTINCT (event_time AT TIME ZONE 'UTC')::date FROM feature_history_001));
INSERT INTO feature_history (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_set, vector, stored_at)
SELECT event_id, entity_kind, entity_id, event_time, received_at, family, action,
       left(encode(sha256(convert_to(array_to_string(feature_names, ','), 'UTF8')), 'hex'), 16), vector, stored_at
FROM feature_history_001;
INSERT INTO history_day_counts (table_name, day, rows, last_stored_at)
SELECT 'feature_history', (event_time AT TIME ZONE 'UTC')::date, count(*), max(stored_at) FROM feature_history_001 GROUP BY 2;
DROP TABLE feature_history_001;

-- Every score the scorers published, live and shadow: the key joins the versions' scores of one event.
CREATE TABLE score_history (
  event_id      text             NOT NULL,
  model_version text             NOT NULL,
  entity_kind   text             NOT NULL,
  entity_id     text             NOT NULL,
  event_time    timestamptz      NOT NULL,
  scored_at     timestamptz      NOT NULL,
  family        text             NOT NULL,
  action        text             NOT NULL,
  score         double precision NOT NULL,  -- calibrated, 0..1
  raw_score     double precision NOT NULL,
  stored_at     timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (event_time, event_id, model_version)
) PARTITION BY RANGE (event_time);
CREATE INDEX score_history_version ON score_history (model_version, event_time);
