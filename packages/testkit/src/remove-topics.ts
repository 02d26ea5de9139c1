import type { Kafka } from 'kafkajs'

/**
 * Deletes every topic whose name starts with one of `prefixes` (a test's or a benchmark's deployment
 * prefix). Each run creates a dozen topics of 12 partitions; a broker that keeps them all runs out
 * of file descriptors (a partition holds its segment files open).
 */
export async function removeTopics(kafka: Kafka, prefixes: string[]): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const names = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(p)))
    if (names.length) await admin.deleteTopics({ topics: names, timeout: 60_000 })
  } finally {
    await admin.disconnect()
  }
}
