-- A row's place in a uniform sample of any window of the history: the first 32 bits of md5 of its
-- event id. Training reads up to TRAIN_MAX_ROWS rows of a window in this order (adapters/
-- feature-history.ts), so the rows are spread over all of its event time, however busy the stream,
-- and the same history gives the same rows whatever order it was written in. An index on the
-- expression, not a column: writers (this version's and older ones, during an upgrade) store rows as
-- before, and a read of the window's first rows in this order stops after them.
-- Built once over the history there is: minutes for tens of millions of rows.
CREATE INDEX feature_history_sample_key ON feature_history ((('x' || substr(md5(event_id), 1, 8))::bit(32)::integer));
