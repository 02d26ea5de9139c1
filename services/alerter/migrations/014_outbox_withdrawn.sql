-- A notification still waiting (a sink down, a backlog draining) when an analyst resolves its alert
-- as noise, by a suppression or a false_positive verdict, is withdrawn rather than sent: analysts
-- were paged for what they had just silenced. withdrawn_at says when; last_error says why.
ALTER TABLE sink_outbox DROP CONSTRAINT IF EXISTS sink_outbox_status_check;
ALTER TABLE sink_outbox ADD CONSTRAINT sink_outbox_status_check CHECK (status IN ('pending', 'delivered', 'failed', 'withdrawn'));
ALTER TABLE sink_outbox ADD COLUMN IF NOT EXISTS withdrawn_at timestamptz;
