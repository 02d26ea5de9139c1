-- An alert's severity (the column, and body's severity and severityId) rises with the most severe
-- event folded into it and never falls; an alert that rises is routed again to the sinks whose
-- minimum it now reaches. routed_severity_id is the severity_id the sinks were last routed for,
-- null until the alert's first routing is recorded.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS routed_severity_id integer;
UPDATE alerts SET routed_severity_id = (body->>'severityId')::int WHERE published AND routed_severity_id IS NULL;
