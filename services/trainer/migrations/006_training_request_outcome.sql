-- What a served request's training came to: live, shadow, rejected (by the gate), or unchanged (it
-- reproduced the artifact of the version in `version`, so nothing new was registered). Null for
-- requests finished before it was kept, and for failed ones.
ALTER TABLE training_requests ADD COLUMN outcome text;
