import { MODEL_REGISTRY_MIGRATIONS } from '@vigil/models'
import { runMigrations, type Logger, type PgPool } from '@vigil/platform'
import { sharedTableMigrations } from '@vigil/schemas'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const TRAINER_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations')

/**
 * Brings the trainer's tables up to date: the shared ones it reads (flagged_entities), the model
 * registry's, then its own (`trainerMigrations` replaces its own, for a test of an upgrade).
 */
export async function migrateTrainerDatabase(pool: PgPool, log: Logger, trainerMigrations = TRAINER_MIGRATIONS): Promise<void> {
  await runMigrations(pool, sharedTableMigrations.owner, sharedTableMigrations.dir, log)
  await runMigrations(pool, 'models', MODEL_REGISTRY_MIGRATIONS, log)
  await runMigrations(pool, 'trainer', trainerMigrations, log)
}
