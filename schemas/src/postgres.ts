import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The Postgres tables one service writes and another reads (flagged_entities: the alerter flags,
 * the trainer leaves out), as versioned migrations. Every service that uses one runs these at
 * start, before its own: whichever starts first creates the tables, and the migrations' lock keeps
 * two services from creating them at once.
 */
export const sharedTableMigrations = {
  owner: 'shared-tables',
  dir: join(dirname(fileURLToPath(import.meta.url)), '..', 'postgres'),
} as const
