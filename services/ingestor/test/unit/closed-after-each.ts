import { afterEach } from 'vitest'
import type { Listener } from '../../src/framed-tcp-server.ts'

/**
 * For a describe block: the listener a test passes through the returned function is closed after
 * that test, whatever its outcome, so a failed assertion leaves no port open for the next.
 */
export function closedAfterEach(): <L extends Listener>(listener: L) => L {
  let open: Listener | null = null
  afterEach(async () => {
    await open?.close()
    open = null
  })
  return (listener) => {
    open = listener
    return listener
  }
}
