-- The model registry: every trained version, its artifact and where it came from.
CREATE TABLE IF NOT EXISTS model_versions (
  model           text        NOT NULL,
  version         text        NOT NULL,
  algorithm       text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  training_rows   integer     NOT NULL,
  window_start    timestamptz,
  window_end      timestamptz,
  feature_names   text[]      NOT NULL,
  params          jsonb       NOT NULL,
  metrics         jsonb       NOT NULL DEFAULT '{}',
  artifact        bytea       NOT NULL,
  sha256          text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('trained', 'published', 'rejected')),
  PRIMARY KEY (model, version)
);
CREATE INDEX IF NOT EXISTS model_versions_published ON model_versions (model, created_at DESC) WHERE status = 'published';
