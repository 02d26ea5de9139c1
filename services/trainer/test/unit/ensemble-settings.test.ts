import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { ensembleSettings } from '../../src/training/ensemble-settings.ts'

// What the trainer reads as its ensemble and its holdout, and what it refuses at start.
const ENV = { KAFKA_BROKERS: 'localhost:9092', PG_URL: 'postgres://localhost/x' }
const membersOf = (TRAIN_MEMBERS: string) => ensembleSettings(loadConfig({ ...ENV, TRAIN_MEMBERS }), ['a', 'b']).members

describe('trainer settings', () => {
  it('reads members as kind:weight, a missing weight as 1', () => {
    expect(membersOf('isolation-forest:2, hbos')).toEqual([{ kind: 'isolation-forest', weight: 2 }, { kind: 'hbos', weight: 1 }])
  })

  it('refuses an empty or malformed weight rather than read it as 0', () => {
    expect(() => membersOf('isolation-forest:,hbos:1')).toThrow("TRAIN_MEMBERS: weight of isolation-forest must be a number >= 0, got ''")
    expect(() => membersOf('isolation-forest:1:2')).toThrow("got '1:2'")
    expect(() => membersOf('hbos:-1')).toThrow("got '-1'")
    expect(() => membersOf('forest:1')).toThrow(/unknown member 'forest'/)
  })

  it('refuses a holdout too short to judge a candidate on', () => {
    expect(() => loadConfig({ ...ENV, TRAIN_HOLDOUT_MS: '0' })).toThrow(/TRAIN_HOLDOUT_MS/)
    expect(loadConfig({ ...ENV, TRAIN_HOLDOUT_MS: '600000' }).TRAIN_HOLDOUT_MS).toBe(600_000)
  })
})
