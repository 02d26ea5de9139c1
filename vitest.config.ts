import { defineConfig } from 'vitest/config'

// Two projects: `unit` needs nothing running; `integration` needs the real stack
// (Kafka, Postgres, Redis, optionally a schema registry), found by test/global-setup.ts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{schemas,packages/*,services/*}/test/unit/**/*.test.ts', 'test/deploy/**/*.test.ts'],
          environment: 'node',
          // Some unit tests read whole corpora (389 Sigma rules, every Zeek sample) while the other
          // files run beside them on 2 cores: vitest's 5 s default failed one in CI (8.8 s). No test
          // here times anything; speed is the benchmarks' business.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{schemas,packages/*,services/*}/test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['./test/global-setup.ts'],
          // Safety nets for a hang, not speed checks: every wait inside a test names what it waits
          // for. CI's machine ran these files up to 2.2x slower than the development box (the Sigma
          // differential 70 s against 31 s), and the shippers test's set-up (six pipelines, one after
          // another) passed 180 s there.
          testTimeout: 480_000,
          hookTimeout: 480_000,
          // The machine has 2 cores and one broker: run integration files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
})
