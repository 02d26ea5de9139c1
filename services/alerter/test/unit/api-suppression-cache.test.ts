import { describe, expect, it } from 'vitest'
import { createLogger } from '@vigil/platform'
import { createSuppressionCache } from '../../src/api/suppression-cache.ts'
import type { Suppression } from '../../src/api/suppression-store.ts'

const log = createLogger('alerter', 'silent', 'test')
const NOW = Date.UTC(2026, 5, 1, 12)

function suppression(id: number, fields: Partial<Suppression>): Suppression {
  return {
    suppressionId: id, scope: 'entity', value: 'x', entityKind: null, reason: 'test', alertId: null, createdBy: null,
    createdAt: new Date(NOW - 60_000).toISOString(), expiresAt: new Date(NOW + 3_600_000).toISOString(), revokedAt: null, status: 'active', ...fields,
  }
}

/** A store whose answer the test sets, or makes fail. */
function fakeStore(initial: Suppression[]) {
  let current = initial
  let failure: Error | null = null
  let loads = 0
  return {
    async active() {
      loads++
      if (failure) throw failure
      return current
    },
    set: (s: Suppression[]) => { current = s },
    fail: (err: Error | null) => { failure = err },
    loads: () => loads,
  }
}

const ip = (id: string, detector = 'model:default') => ({ detector, entity: { kind: 'source.ip', id } })

describe('suppression cache', () => {
  it('loads again after a reload under way when asked meanwhile: that load may have read before what was just saved', async () => {
    let release: () => void = () => {}
    let hold = false
    const store = fakeStore([])
    const held = { ...store, async active() {
      const answer = store.active()
      if (hold) await new Promise<void>((resolve) => (release = resolve))
      return answer
    } }
    const cache = await createSuppressionCache(held, { refreshMs: 60_000, log })
    try {
      hold = true
      const periodic = cache.refresh() // reads the empty list, then waits
      hold = false
      store.set([suppression(1, { value: '192.0.2.9' })]) // the API saves one and refreshes
      const afterSave = cache.refresh()
      release()
      await Promise.all([periodic, afterSave])
      expect(cache.isSuppressed(ip('192.0.2.9'), NOW)?.suppressionId).toBe(1)
      expect(store.loads()).toBe(3) // the first, the held one, and one after it
      // Asked three times at once: one load, and one after it that the second and third share.
      await Promise.all([cache.refresh(), cache.refresh(), cache.refresh()])
      expect(store.loads()).toBe(5)
    } finally {
      await cache.close()
    }
  })

  it('answers from memory with the first matching active suppression', async () => {
    const store = fakeStore([
      suppression(1, { scope: 'cidr', value: '10.0.0.0/8' }),
      suppression(2, { scope: 'rule', value: 'ssh-brute' }),
    ])
    const cache = await createSuppressionCache(store, { refreshMs: 60_000, log })
    try {
      expect(cache.size()).toBe(2)
      expect(cache.isSuppressed(ip('10.1.2.3'), NOW)?.suppressionId).toBe(1)
      expect(cache.isSuppressed(ip('192.0.2.1', 'sigma:ssh-brute'), NOW)?.suppressionId).toBe(2)
      expect(cache.isSuppressed(ip('192.0.2.1'), NOW)).toBeUndefined()
    } finally {
      await cache.close()
    }
  })

  it('stops applying a suppression the moment it expires, before any reload', async () => {
    const store = fakeStore([suppression(1, { scope: 'entity', value: '192.0.2.9', expiresAt: new Date(NOW + 1_000).toISOString() })])
    const cache = await createSuppressionCache(store, { refreshMs: 60_000, log })
    try {
      expect(cache.isSuppressed(ip('192.0.2.9'), NOW + 999)).toBeDefined()
      expect(cache.isSuppressed(ip('192.0.2.9'), NOW + 1_000)).toBeUndefined()
      expect(store.loads()).toBe(1)
    } finally {
      await cache.close()
    }
  })

  it('picks up changes on refresh and on its timer, and keeps the last copy while the store fails', async () => {
    const store = fakeStore([])
    const cache = await createSuppressionCache(store, { refreshMs: 20, log })
    try {
      expect(cache.isSuppressed(ip('192.0.2.1'), NOW)).toBeUndefined()
      store.set([suppression(3, { scope: 'entity', value: '192.0.2.1' })])
      await cache.refresh()
      expect(cache.isSuppressed(ip('192.0.2.1'), NOW)?.suppressionId).toBe(3)

      store.fail(new Error('connection refused'))
      await expect(cache.refresh()).rejects.toThrow('connection refused')
      expect(cache.isSuppressed(ip('192.0.2.1'), NOW)?.suppressionId).toBe(3)

      store.fail(null)
      store.set([]) // revoked elsewhere: the timer brings it in
      const before = store.loads()
      await waitUntil(() => store.loads() > before + 1)
      expect(cache.isSuppressed(ip('192.0.2.1'), NOW)).toBeUndefined()
    } finally {
      await cache.close()
    }
    const after = store.loads()
    await new Promise((r) => setTimeout(r, 80))
    expect(store.loads()).toBe(after) // closed: no more reloads
  })

  it('fails to start when the first load fails', async () => {
    const store = fakeStore([])
    store.fail(new Error('no database'))
    await expect(createSuppressionCache(store, { refreshMs: 20, log })).rejects.toThrow('no database')
  })
})

async function waitUntil(check: () => boolean, timeoutMs = 2_000) {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}
