-- Whether a row came of a redriven dead letter (its features message carried vigil-redriven-from):
-- input that failed once is not taken for what normal looks like, and training leaves it out
-- (adapters/feature-history.ts). Added to the partitioned table, so every day's partition has it,
-- those there now and those ensure_day_partitions makes later; a constant default adds it without
-- rewriting the history.
ALTER TABLE feature_history ADD COLUMN redriven boolean NOT NULL DEFAULT false;
-- Redriven rows are few: counting those of a training window reads them alone, not the window.
CREATE INDEX feature_history_redriven ON feature_history (event_time) WHERE redriven;
