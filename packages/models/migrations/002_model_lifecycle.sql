-- A version's life: trained, perhaps run in shadow beside the live one, promoted to live, and
-- retired when another takes its place, or rejected. At most one version of a model is live and
-- one is in shadow. Every step is written to model_audit; every scorer says what it runs in model_deployments.

ALTER TABLE model_versions DROP CONSTRAINT IF EXISTS model_versions_status_check;
DROP INDEX IF EXISTS model_versions_published;
ALTER TABLE model_versions
  ADD COLUMN training_data_hash text,         -- sha256 over the training rows, in their deterministic order
  ADD COLUMN rejection_reason   text,
  ADD COLUMN promoted_at        timestamptz;  -- when it last became live

-- Before 002 every published version was announced in turn: the newest is live, the others were replaced.
UPDATE model_versions v
SET status = CASE WHEN ranked.n = 1 THEN 'live' ELSE 'retired' END, promoted_at = v.created_at
FROM (SELECT model, version, row_number() OVER (PARTITION BY model ORDER BY created_at DESC, version DESC) AS n
      FROM model_versions WHERE status = 'published') ranked
WHERE v.model = ranked.model AND v.version = ranked.version;
UPDATE model_versions SET rejection_reason = 'rejected before reasons were recorded' WHERE status = 'rejected';

ALTER TABLE model_versions
  ADD CONSTRAINT model_versions_status_check CHECK (status IN ('trained', 'shadow', 'live', 'rejected', 'retired')),
  ADD CONSTRAINT model_versions_rejection_reason_check CHECK (status <> 'rejected' OR rejection_reason IS NOT NULL);
CREATE UNIQUE INDEX model_versions_one_live ON model_versions (model) WHERE status = 'live';
CREATE UNIQUE INDEX model_versions_one_shadow ON model_versions (model) WHERE status = 'shadow';

-- What happened to each version, when, by whom. No foreign key: a scorer may log failing to load a version the registry lacks.
CREATE TABLE model_audit (
  id      bigserial   PRIMARY KEY,
  model   text        NOT NULL,
  version text        NOT NULL,
  phase   text        NOT NULL CHECK (phase IN ('load', 'train', 'evaluate', 'publish', 'promote', 'rollback', 'reject', 'shadow')),
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text        NOT NULL,           -- e.g. trainer instance id, scorer instance id, cli:<user>@<host>
  details jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX model_audit_version ON model_audit (model, version, at);

-- The version each scorer instance runs in each role, as it last acknowledged.
CREATE TABLE model_deployments (
  instance_id     text        NOT NULL,
  role            text        NOT NULL CHECK (role IN ('live', 'shadow')),
  model           text        NOT NULL,
  version         text        NOT NULL,
  acknowledged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, role)
);
CREATE INDEX model_deployments_version ON model_deployments (model, version);
