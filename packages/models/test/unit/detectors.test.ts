import { describe, expect, it } from 'vitest'
import { seededRandom, type DetectorKind } from '../../src/detector.ts'
import { gaussianMixture } from '../../src/detectors/gaussian-mixture.ts'
import { hbos } from '../../src/detectors/hbos.ts'
import { knnDistance } from '../../src/detectors/knn-distance.ts'
import { fitColumnScaling, scaleRow, type ColumnScaling } from '../../src/detectors/columns.ts'
import { at, attacks, inliers, rankAmong, WIDTH } from './detectors-fixture.ts'

const members: DetectorKind<object>[] = [hbos, gaussianMixture, knnDistance]
const training = inliers(3000, 1)
const fresh = inliers(1000, 2)

describe.each(members.map((kind) => [kind.kind, kind] as const))('%s', (_, kind) => {
  const detector = kind.train(training, kind.defaults, 11)
  const freshScores = detector.score(fresh)

  it('ranks every injected attack above 99% of fresh ordinary events', () => {
    const scores = detector.score(attacks().map((a) => a.row))
    attacks().forEach(({ name }, i) => expect(rankAmong(freshScores, scores[i]!), name).toBeGreaterThanOrEqual(0.99))
  })

  it('scores a batch as it scores its rows one by one, with finite scores', () => {
    const some = fresh.slice(0, 20)
    const batch = detector.score(some)
    some.forEach((row, i) => expect(detector.score([row])[0]).toBe(batch[i]))
    expect(freshScores.every(Number.isFinite)).toBe(true)
  })

  it('is the same model for the same rows and seed', () => {
    const again = kind.train(training, kind.defaults, 11)
    expect(again.toJSON()).toEqual(detector.toJSON())
    expect(again.score(fresh)).toEqual(freshScores)
  })

  it('scores and explains the same after toJSON, JSON and load', () => {
    const loaded = kind.load(JSON.parse(JSON.stringify(detector.toJSON())))
    expect(loaded.score(fresh)).toEqual(freshScores)
    for (const row of fresh.slice(0, 10)) expect(loaded.explain!(row)).toEqual(detector.explain!(row))
  })

  it.each(['auth_failures', 'distinct_url_paths', 'bytes', 'dns_query_entropy', 'geo_distance_from_usual_km', 'requests_per_second'])(
    'names %s first when only that feature is pushed far out',
    (feature) => {
      const j = at(feature)
      let max = 0
      for (const row of training) max = Math.max(max, row[j]!)
      for (const original of fresh.slice(0, 5)) {
        const row = [...original]
        row[j] = (max + 1) * 1000
        const explanation = detector.explain!(row)
        expect(explanation[0]!.feature).toBe(j)
        expect(explanation.every((c, i) => c.weight > 0 && (i === 0 || c.weight <= explanation[i - 1]!.weight))).toBe(true)
      }
    },
  )

  it('refuses a state that is not its own', () => {
    expect(() => kind.load({ nothing: true })).toThrow()
    expect(() => kind.load(null)).toThrow()
  })
})

describe('a feature constant in training', () => {
  // user_agent_is_scanner is 0 in every ordinary row of the fixture.
  const scanner = at('user_agent_is_scanner')
  const flagged = fresh.slice(0, 200).map((row) => Object.assign([...row], { [scanner]: 1 }))

  it('scales to the spread of a flag set in one row of n, not to 1', () => {
    const scaling = fitColumnScaling(training)
    expect(scaling.scale[scanner]).toBeCloseTo(1 / Math.sqrt(training.length), 12)
    expect(scaleRow(scaling, flagged[0]!, new Float64Array(WIDTH))[scanner]).toBeCloseTo(Math.sqrt(training.length), 9)
  })

  for (const kind of [gaussianMixture, knnDistance] as DetectorKind<object>[]) {
    it(`${kind.kind} ranks every ordinary row that leaves it above 99% of fresh ordinary rows`, () => {
      const detector = kind.train(training, kind.defaults, 11)
      const ordinary = detector.score(fresh)
      for (const s of detector.score(flagged)) expect(rankAmong(ordinary, s)).toBeGreaterThanOrEqual(0.99)
    })
  }
})

describe('hbos', () => {
  it('costs more the farther a value lies beyond the training range', () => {
    const detector = hbos.train(training, hbos.defaults, 1)
    const j = at('bytes')
    const row = (bytes: number) => Object.assign([...fresh[0]!], { [j]: bytes })
    const [a, b, c] = detector.score([row(1e8), row(1e10), row(1e12)])
    expect(a).toBeLessThan(b!)
    expect(b).toBeLessThan(c!)
  })

  it('treats a value between two seen categories as an empty bin, and a never-seen flag as rare', () => {
    const rows = Array.from({ length: 400 }, (_, i) => [i % 2 === 0 ? 1 : 3, 0])
    const detector = hbos.train(rows, hbos.defaults, 1)
    const [seen, between, flag] = detector.score([[1, 0], [2, 0], [1, 1]])
    expect(between! - seen!).toBeCloseTo(-Math.log(hbos.defaults.alpha) + Math.log(1 + hbos.defaults.alpha), 9)
    expect(flag).toBeGreaterThan(between!)
  })
})

describe('gaussian-mixture', () => {
  const clusters = (n: number, seed: number, centres: number[][]) => {
    const random = seededRandom(seed)
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
    return Array.from({ length: n }, (_, i) => centres[i % centres.length]!.map((c) => c + normal()))
  }
  const components = (rows: number[][]) => (gaussianMixture.train(rows, gaussianMixture.defaults, 3).toJSON() as { weights: number[] }).weights.length

  it('chooses the number of components by BIC', () => {
    expect(components(clusters(1200, 1, [[0, 0, 0]]))).toBe(1)
    expect(components(clusters(1200, 1, [[0, 0, 0], [12, 12, 12], [-12, 12, -12]]))).toBe(3)
  })

  it('stays finite on constant and two-valued columns (the variance floor)', () => {
    const rows = Array.from({ length: 300 }, (_, i) => [5, i % 2, i % 7])
    const detector = gaussianMixture.train(rows, gaussianMixture.defaults, 1)
    const [usual, odd] = detector.score([[5, 1, 3], [6, 0.5, 3]])
    expect(Number.isFinite(usual) && Number.isFinite(odd)).toBe(true)
    expect(odd).toBeGreaterThan(usual!)
  })

  it('fits no more components than there are distinct rows (log data repeats rows)', () => {
    const [a, b] = inliers(2, 9)
    for (const rows of [new Array(20).fill(a), new Array(200).fill(a), [...new Array(190).fill(a), ...new Array(10).fill(b)]]) {
      const detector = gaussianMixture.train(rows, gaussianMixture.defaults, 1)
      expect((detector.toJSON() as { weights: number[] }).weights.length).toBeLessThanOrEqual(new Set(rows).size)
      const [seen, other] = detector.score([a!, Object.assign([...a!], { [at('auth_attempts')]: 40 })])
      expect(Number.isFinite(seen) && Number.isFinite(other)).toBe(true)
      expect(other).toBeGreaterThan(seen!)
    }
  })
})

describe('knn-distance', () => {
  // Two features that always move together: every value of each is common, the pair (low, high) never occurs.
  const random = seededRandom(5)
  const correlated = Array.from({ length: 2000 }, () => {
    const x = random()
    return [x, x + 0.02 * (random() - 0.5), random()]
  })
  const probes = Array.from({ length: 500 }, () => {
    const x = random()
    return [x, x + 0.02 * (random() - 0.5), random()]
  })
  const unseenPair = [0.15, 0.85, 0.5]

  it('flags a combination never seen whose every value is common, which histograms cannot see', () => {
    const rank = (kind: DetectorKind<object>) => {
      const detector = kind.train(correlated, kind.defaults, 1)
      return rankAmong(detector.score(probes), detector.score([unseenPair])[0]!)
    }
    expect(rank(knnDistance)).toBe(1)
    expect(rank(hbos)).toBeLessThan(0.9)
  })

  it('scores a row between its brute-force score and twice it (the search slack), and exactly where the search is exact', () => {
    const detector = knnDistance.train(training, knnDistance.defaults, 11)
    const { scaling, reference, neighbours } = detector.toJSON() as { scaling: ColumnScaling; reference: number[]; neighbours: number }
    const scaledReference = Array.from({ length: reference.length / WIDTH }, (_, o) => scaleRow(scaling, reference.slice(o * WIDTH, (o + 1) * WIDTH), new Float64Array(WIDTH)))
    const bruteForce = (row: number[]) => {
      const scaled = scaleRow(scaling, row, new Float64Array(WIDTH))
      const distances = scaledReference.map((r) => Math.hypot(...r.map((v, j) => v - scaled[j]!))).sort((a, b) => a - b)
      return distances.slice(0, neighbours).reduce((a, b) => a + b, 0) / neighbours
    }
    const rows = [...fresh.slice(0, 100), ...attacks().map((a) => a.row)]
    const scores = detector.score(rows)
    let exact = 0
    rows.forEach((row, i) => {
      const truth = bruteForce(row)
      expect(scores[i]).toBeGreaterThanOrEqual(truth * (1 - 1e-9))
      expect(scores[i]).toBeLessThanOrEqual(2 * truth * (1 + 1e-9))
      if (Math.abs(scores[i]! - truth) <= 1e-9 * truth) exact += 1
    })
    expect(exact / rows.length).toBeGreaterThan(0.9)
  })

  it('explains an unseen pair by what sets it apart from its exact nearest reference rows, quoting their range only far beyond it', () => {
    const detector = knnDistance.train(correlated, { neighbours: 5, referenceSize: 2000 }, 1)
    const { scaling, reference } = detector.toJSON() as { scaling: ColumnScaling; reference: number[] }
    const rows = Array.from({ length: reference.length / 3 }, (_, o) => reference.slice(o * 3, (o + 1) * 3))
    const nearestOf = (row: number[]) => {
      const scaledRow = scaleRow(scaling, row, new Float64Array(3))
      const distance = (r: number[]) => Math.hypot(...scaleRow(scaling, r, new Float64Array(3)).map((v, j) => v - scaledRow[j]!))
      return [...rows].sort((a, b) => distance(a) - distance(b)).slice(0, 5)
    }
    // The pair (0.15, 0.85): its nearest rows lie on the diagonal between, far from both values.
    const explanation = detector.explain!(unseenPair)
    const nearest = nearestOf(unseenPair)
    const quoted = explanation.filter((c) => c.nearest)
    expect(quoted.map((c) => c.feature).sort()).toEqual([0, 1])
    for (const c of quoted) {
      const values = nearest.map((r) => r[c.feature]!)
      expect(c.nearest).toEqual({ low: Math.min(...values), high: Math.max(...values) }) // the exact nearest rows, as given
      expect(unseenPair[c.feature]! < c.nearest!.low || unseenPair[c.feature]! > c.nearest!.high).toBe(true)
    }
    // An ordinary row's values lie among its neighbours', or near: no range is quoted for it.
    const quotedForOrdinary = probes.slice(0, 200).filter((row) => detector.explain!(row).some((c) => c.nearest)).length
    expect(quotedForOrdinary).toBeLessThan(10)
  })

  it('quotes a count\'s nearest range only more than two of its steps away, however seldom neighbours differ in it', () => {
    // a count that is 1 in nine rows of ten and 2 in the tenth, beside a continuous feature: neighbours
    // never differ in the count, so its usual difference between neighbours is 0 and its step must stand in
    const rng = seededRandom(9)
    const rows = Array.from({ length: 1000 }, () => [rng() < 0.9 ? 1 : 2, rng()])
    const detector = knnDistance.train(rows, { neighbours: 5, referenceSize: 1000 }, 1)
    const quotedFor = (row: number[]) => detector.explain!(row).find((c) => c.feature === 0)?.nearest
    expect([1, 2].flatMap((count) => Array.from({ length: 100 }, () => [count, rng()])).filter((row) => quotedFor(row) !== undefined)).toHaveLength(0)
    expect(quotedFor([5, 0.5])).toBeUndefined() // log1p(5) - log1p(2): under two steps of log1p(2) - log1p(1)
    expect(quotedFor([20, 0.5])).toEqual({ low: 2, high: 2 })
  })

  it('blames a value so far out that every distance overflows by its size, having no neighbour to compare with', () => {
    const detector = knnDistance.train(correlated, { neighbours: 5, referenceSize: 500 }, 1)
    const explanation = detector.explain!([0.5, 0.5, 1e200])
    expect(explanation[0]).toEqual({ feature: 2, weight: Infinity })
    expect(explanation.every((c) => !Number.isNaN(c.weight))).toBe(true)
  })

  it('refuses a state whose typical steps are not one non-negative number per feature, and loads one from before them', () => {
    const state = knnDistance.train(correlated, { neighbours: 5, referenceSize: 200 }, 1).toJSON() as Record<string, unknown> & { typicalChange: number[] }
    for (const typicalChange of [null, [null, 1, 1], [1, 1], ['1', 1, 1], [-1, 1, 1]]) {
      expect(() => knnDistance.load(JSON.parse(JSON.stringify({ ...state, typicalChange }))), JSON.stringify(typicalChange)).toThrow(/does not fit together/)
    }
    const { typicalChange: _, ...older } = state
    expect(knnDistance.load(older).explain!(unseenPair).every((c) => c.nearest === undefined)).toBe(true)
  })

  it('keeps at most referenceSize rows', () => {
    const detector = knnDistance.train(training, { neighbours: 3, referenceSize: 100 }, 1)
    expect((detector.toJSON() as { reference: number[] }).reference).toHaveLength(100 * WIDTH)
  })
})
