import { networkInterfaces } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { startHttpServer } from '../../src/http-server.ts'
import { createMetrics } from '../../src/metrics.ts'

// A machine with an IPv6 loopback: the probes must answer there too (an IPv6-only cluster's kubelet
// has no IPv4 address to probe from), and on IPv4 as before.
const hasIpv6Loopback = Object.values(networkInterfaces()).flat().some((i) => i?.family === 'IPv6' && i.address === '::1')

describe('probe and metrics server', () => {
  let close: (() => Promise<void>) | null = null
  afterEach(async () => {
    await close?.()
    close = null
  })

  async function probed(host: string) {
    let ready = false
    const http = await startHttpServer(0, createMetrics('probe-test'), { ready: () => ready })
    close = http.close
    expect(await (await fetch(`http://${host}:${http.port}/healthz`)).text()).toBe('ok\n')
    expect((await fetch(`http://${host}:${http.port}/readyz`)).status).toBe(503)
    ready = true
    expect((await fetch(`http://${host}:${http.port}/readyz`)).status).toBe(200)
  }

  it('answers /healthz and /readyz on IPv4', () => probed('127.0.0.1'))
  it.skipIf(!hasIpv6Loopback)('answers /healthz and /readyz on IPv6', () => probed('[::1]'))
})
