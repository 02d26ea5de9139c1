export * from './isolation-forest.ts'
export * from './model-artifact.ts'
export * from './model-registry.ts'
