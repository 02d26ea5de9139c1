import { runMigrations, type Logger, type PgPool } from '@vigil/platform'
import { sharedTableMigrations } from '@vigil/schemas'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ALERTER_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations')

/** Brings the alerter's tables up to date: the shared ones it writes (flagged_entities), then its own. */
export async function migrateAlerterDatabase(pool: PgPool, log: Logger): Promise<void> {
  await runMigrations(pool, sharedTableMigrations.owner, sharedTableMigrations.dir, log)
  await runMigrations(pool, 'alerter', ALERTER_MIGRATIONS, log)
}
