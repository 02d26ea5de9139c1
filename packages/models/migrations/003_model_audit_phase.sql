-- The trainer's schedule asks at every check when the model's last training run was (phase
-- 'train', newest first): without this it read every audit row of the model, once a second.
CREATE INDEX IF NOT EXISTS model_audit_phase ON model_audit (model, phase, at);
