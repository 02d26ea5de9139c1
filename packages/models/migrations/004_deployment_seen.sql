-- When each scorer instance last said it still runs what it acknowledged (every
-- DEPLOYMENT_RENEW_MS): one killed without a chance to withdraw (SIGKILL, an OOM kill, a lost node)
-- left its rows for good, and the models CLI counted it among the instances a version runs on.
ALTER TABLE model_deployments ADD COLUMN IF NOT EXISTS seen_at timestamptz NOT NULL DEFAULT now();
