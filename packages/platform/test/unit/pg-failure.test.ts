import { describe, expect, it } from 'vitest'
import { canRetry, isRejectedInput, pgFailure, PoisonMessageError, TransientError } from '../../src/index.ts'

// What a Postgres failure means for the message that caused it: a value Postgres refuses is that
// message's fault (dead-lettered), anything else is Postgres being away (the batch is held).
const pgError = (code: string | undefined, message: string) => Object.assign(new Error(message), code === undefined ? {} : { code })
const codes = { unavailable: 'STORE_UNAVAILABLE', rejected: 'STORE_REJECTED' }

describe('pgFailure', () => {
  it.each([
    ['22008', 'timestamp out of range: "1e+13"'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
    ['23502', 'null value in column "title" violates not-null constraint'],
    ['23505', 'duplicate key value violates unique constraint'],
  ])('dead-letters the input Postgres refused (SQLSTATE %s), with its message as the reason', (sqlState, message) => {
    const err = pgFailure(pgError(sqlState, message), codes)
    expect(isRejectedInput(pgError(sqlState, message))).toBe(true)
    expect(err).toBeInstanceOf(PoisonMessageError)
    expect(canRetry(err)).toBe(false)
    expect(err.code).toBe('STORE_REJECTED')
    expect(err.message).toBe(`postgres: ${message}`)
  })

  it.each([
    ['08006', 'connection failure'],
    ['53300', 'sorry, too many clients already'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P03', 'the database system is starting up'],
    ['40001', 'could not serialize access due to concurrent update'],
    ['40P01', 'deadlock detected'],
    ['42P01', 'relation "alerts" does not exist'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'],
    [undefined, 'Connection terminated unexpectedly'],
  ])('holds the batch when Postgres is away or busy (%s)', (code, message) => {
    const err = pgFailure(pgError(code, message), codes, 'storing alerts')
    expect(err).toBeInstanceOf(TransientError)
    expect(canRetry(err)).toBe(true)
    expect(err.code).toBe('STORE_UNAVAILABLE')
    expect(err.message).toBe(`storing alerts: ${message}`)
  })

  it('keeps the verdict of an error that has one', () => {
    const own = new PoisonMessageError('ALERT_TOO_BIG', 'too big')
    expect(pgFailure(own, codes)).toBe(own)
  })
})
