import { randomUUID } from 'node:crypto'
export * from '../../src/index.ts'

export const uniqueTestPrefix = () => `t-${randomUUID().slice(0, 8)}-`
