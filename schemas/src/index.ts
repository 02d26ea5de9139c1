export * from './generated.ts'
export * from './topics.ts'
export * from './features.ts'
export * from './codec.ts'
