// ml-isolation-forest ships no types; this is the part of its API Vigil uses.
declare module 'ml-isolation-forest' {
  export class IsolationForest {
    constructor(options?: { nEstimators?: number })
    train(trainingSet: number[][]): void
    predict(data: number[][]): number[]
  }
}
