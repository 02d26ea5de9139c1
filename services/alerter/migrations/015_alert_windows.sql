-- Which alert each alert window's events go into (adapters/alert-store.ts): the window's own alert,
-- whose id is hash(entity, detector, window), or the open alert of the same entity and detector it
-- continued (an attack across window boundaries). The first event of a window decides, and every
-- later event of it, a redelivery included, reads the answer here: resolving it again could pick
-- another alert (the continued one resolved by an analyst since, a newer one opened) and count the
-- event twice. Checked at commit, as the alert a window opens is written after its row here; gone
-- with its alert (retention).
CREATE TABLE IF NOT EXISTS alert_windows (
  window_alert_id text PRIMARY KEY,  -- the window's own alert id
  alert_id        text NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX IF NOT EXISTS alert_windows_alert ON alert_windows (alert_id);
