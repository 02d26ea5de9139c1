import type { TestProject } from 'vitest/node'
import { dockerAnswers, stackFromEnv, startNativeStack, type StackEnv } from '@vigil/testkit'

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEnv
  }
}

/**
 * The one place tests decide where the stack is: service URLs from the environment if given, else
 * testcontainers when a Docker engine answers, else the natively started stack (deploy/local).
 */
export default async function setup(project: TestProject) {
  let stop: (() => Promise<void>) | undefined
  let stack = stackFromEnv()
  if (!stack && dockerAnswers()) {
    const { startContainerStack } = await import('../packages/testkit/src/containers.ts')
    const started = await startContainerStack()
    stack = started.env
    stop = started.stop
  }
  stack ??= startNativeStack()
  project.provide('stack', stack)
  return async () => {
    await stop?.()
  }
}
