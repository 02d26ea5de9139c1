export * from './gaussian-mixture.ts'
export * from './hbos.ts'
export * from './knn-distance.ts'
