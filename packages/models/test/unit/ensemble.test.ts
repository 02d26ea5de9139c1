import { beforeAll, describe, expect, it } from 'vitest'
import { gzipSync } from 'node:zlib'
import { gaussianMixture } from '../../src/detectors/gaussian-mixture.ts'
import { hbos } from '../../src/detectors/hbos.ts'
import { knnDistance } from '../../src/detectors/knn-distance.ts'
import {
  decodeEnsembleArtifact,
  describeFeatureValue,
  encodeEnsembleArtifact,
  ensembleMembers,
  explainedPartOf,
  formatNumber,
  loadEnsemble,
  trainEnsemble,
  type DetectorRegistry,
  type EnsembleArtifact,
  type EnsembleConfig,
  type EnsembleMemberKind,
  type LoadedEnsemble,
} from '../../src/ensemble/index.ts'
import { at, attacks, featureNames, inliers, rankAmong, WIDTH } from './detectors-fixture.ts'

// The members written here; the registry's other kinds (isolation-forest) are tested where they live.
const registry: DetectorRegistry = { [hbos.kind]: hbos, [gaussianMixture.kind]: gaussianMixture, [knnDistance.kind]: knnDistance }
const names = [...featureNames]
const training = inliers(3000, 1)
const fresh = inliers(2000, 2)
const config: EnsembleConfig = {
  seed: 7,
  members: [{ kind: 'hbos' }, { kind: 'gaussian-mixture', params: { components: [1, 2, 4, 8] } }, { kind: 'knn-distance', weight: 2 }],
  targetAlertRate: 0.05,
}

let artifact: EnsembleArtifact
let ensemble: LoadedEnsemble
beforeAll(async () => {
  artifact = await trainEnsemble(training, names, config, registry)
  ensemble = await loadEnsemble(artifact, registry)
})

describe('trainEnsemble', () => {
  it('records members, calibrations, baselines, threshold and how it was trained', () => {
    expect(artifact.format).toBe(2)
    expect(artifact.featureNames).toEqual(names)
    expect(artifact.members.map((m) => [m.kind, m.weight])).toEqual([['hbos', 1], ['gaussian-mixture', 1], ['knn-distance', 2]])
    expect(artifact.members[1]!.params).toEqual({ ...gaussianMixture.defaults, components: [1, 2, 4, 8] })
    expect(artifact.baselines).toHaveLength(WIDTH)
    const hour = artifact.baselines[at('hour_of_day')]!
    expect(hour.min).toBe(0)
    expect(hour.max).toBe(23)
    expect(hour.p50).toBeGreaterThanOrEqual(hour.min)
    expect(hour.p99).toBeGreaterThanOrEqual(hour.p50)
    expect([hour.p1, hour.p10, hour.p50, hour.p90, hour.p99]).toEqual([...[hour.p1, hour.p10, hour.p50, hour.p90, hour.p99]].sort((a, b) => a! - b!))
    expect(hour.p90).toBeGreaterThan(hour.p10!)
    expect(artifact.training).toMatchObject({ rows: 3000, excludedRows: 0, weighted: false, trainingRows: 2400, calibrationRows: 600, seed: 7, threshold: { targetAlertRate: 0.05 } })
  })

  it('gives the same bytes for the same rows, configuration and seed', async () => {
    const again = await trainEnsemble(training, names, config, registry)
    expect(encodeEnsembleArtifact(again).sha256).toBe(encodeEnsembleArtifact(artifact).sha256)
  })

  it('leaves out rows weighted 0 and resamples by unequal weights', async () => {
    const small = { ...config, members: [{ kind: 'hbos' }] }
    const rows = [...training.slice(0, 1000), ...Array.from({ length: 20 }, () => new Array<number>(WIDTH).fill(1e9))]
    const excluded = await trainEnsemble(rows, names, { ...small, rowWeights: rows.map((_, i) => (i < 1000 ? 1 : 0)) }, registry)
    expect(excluded.training).toMatchObject({ excludedRows: 20, weighted: false })
    expect(excluded.baselines[at('bytes')]!.max).toBeLessThan(1e9)

    const weights = training.slice(0, 1000).map((row) => (row[at('auth_attempts')]! > 0 ? 5 : 1))
    const weighted = await trainEnsemble(training.slice(0, 1000), names, { ...small, rowWeights: weights }, registry)
    const plain = await trainEnsemble(training.slice(0, 1000), names, small, registry)
    expect(weighted.training.weighted).toBe(true)
    // sshd rows, weighted up, move the median of auth_attempts from 0 to at least 1.
    expect(plain.baselines[at('auth_attempts')]!.p50).toBe(0)
    expect(weighted.baselines[at('auth_attempts')]!.p50).toBeGreaterThanOrEqual(1)
  })

  it('refuses what it cannot train', async () => {
    await expect(trainEnsemble(training, names.slice(1), config, registry)).rejects.toThrow(/features/)
    await expect(trainEnsemble(training, names, { ...config, members: [{ kind: 'nope' }] }, registry)).rejects.toThrow(/unknown ensemble member 'nope' \(known: hbos, gaussian-mixture, knn-distance\)/)
    await expect(trainEnsemble(training, names, { ...config, members: [{ kind: 'hbos', weight: 0 }] }, registry)).rejects.toThrow(/positive/)
    await expect(trainEnsemble(training.slice(0, 5), names, config, registry)).rejects.toThrow(/at least 10/)
  })
})

describe('loadEnsemble', () => {
  it('scores attacks above the ordinary events, and at or above the threshold', async () => {
    const ordinary = await ensemble.score(fresh, { explain: 'none' })
    const attack = await ensemble.score(attacks().map((a) => a.row))
    attacks().forEach(({ name }, i) => {
      expect(rankAmong(ordinary.score, attack.score[i]!), name).toBe(1)
      expect(attack.score[i], name).toBeGreaterThanOrEqual(ensemble.threshold)
    })
    for (const s of [...ordinary.score, ...attack.score]) expect(s >= 0 && s <= 1).toBe(true)
  })

  it('alerts on about the target rate of fresh ordinary events', async () => {
    const { score } = await ensemble.score(fresh, { explain: 'none' })
    const rate = score.filter((s) => s >= ensemble.threshold).length / score.length
    expect(rate).toBeGreaterThan(0.025)
    expect(rate).toBeLessThan(0.08)
  })

  it('says when the held-out rows were too few for the target rate, and the threshold is extrapolated', async () => {
    // 600 held-out rows: 0.05 is 30 of them, 0.001 not one.
    const short = await trainEnsemble(training, names, { ...config, targetAlertRate: 0.001 }, registry)
    expect(short.training.threshold).toEqual({ targetAlertRate: 0.001, heldRowsShort: true })
    expect(short.threshold).toBe(0.999)
    expect(artifact.training.threshold).toEqual({ targetAlertRate: 0.05 })
  })

  it('calibrates each member and the combination to about uniform on fresh ordinary events', async () => {
    const { score, members } = await ensemble.score(fresh, { explain: 'none' })
    for (const values of [score, ...members]) {
      const below = (q: number) => values.filter((v) => v < q).length / values.length
      expect(below(0.25)).toBeCloseTo(0.25, 1)
      expect(below(0.5)).toBeCloseTo(0.5, 1)
      expect(below(0.75)).toBeCloseTo(0.75, 1)
    }
  })

  it('names the features an attack pushed, with its training yardstick', async () => {
    const [bruteForce, scanner] = attacks()
    const top = await ensemble.explain(bruteForce!.row)
    expect(top).toHaveLength(3)
    const pushed = ['auth_attempts', 'auth_failures', 'auth_failure_ratio', 'distinct_users', 'invalid_user_attempts', 'auth_attempts_per_minute', 'events_in_window', 'seconds_since_previous']
    for (const t of top) expect(pushed).toContain(t.feature)
    const failures = top.find((t) => t.feature === 'invalid_user_attempts') ?? top[0]!
    const baseline = artifact.baselines[failures.index]!
    expect(failures).toMatchObject({ value: bruteForce!.row[failures.index], p50: baseline.p50, p99: baseline.p99 })
    expect(failures.text).toMatch(new RegExp(`^${failures.feature} \\S+, training p99 \\S+`))
    expect(failures.description).toMatch(/\w+/)
    expect(top.reduce((sum, t) => sum + t.share, 0)).toBeLessThanOrEqual(1 + 1e-12)

    const scannerTop = (await ensemble.explain(scanner!.row)).map((t) => t.feature)
    expect(scannerTop.some((f) => ['user_agent_is_scanner', 'http_4xx_ratio', 'distinct_url_paths', 'requests_per_second', 'events_in_window'].includes(f))).toBe(true)
  })

  it('names a single pushed feature first', async () => {
    for (const feature of ['auth_failures', 'geo_distance_from_usual_km', 'dns_query_entropy', 'distinct_url_paths']) {
      const row = [...fresh[3]!]
      row[at(feature)] = artifact.baselines[at(feature)]!.max * 100 + 100
      expect((await ensemble.explain(row))[0]!.feature, feature).toBe(feature)
    }
  })

  it('names a value within its training range only against the training rows nearest its row, which all lay on one side of it', async () => {
    // A web row with an auth failure ratio: 0.94 is within training's p1 0 to p99 1, but no web row like it had one.
    const row = [...fresh[3]!]
    const ratio = at('auth_failure_ratio')
    row[ratio] = 0.94
    const b = artifact.baselines[ratio]!
    expect(0.94 >= b.p1! && 0.94 <= b.p99).toBe(true)
    const named = (await ensemble.explain(row)).find((t) => t.feature === 'auth_failure_ratio')!
    expect(named.nearest).toEqual({ low: 0, high: 0 })
    expect(named.text).toBe('auth_failure_ratio 0.94, nearest rows of the training sample all 0')
    // Its usual value, as its neighbours have it, is no reason at all.
    row[ratio] = 0
    expect((await ensemble.explain(row)).map((t) => t.feature)).not.toContain('auth_failure_ratio')
  })

  it('gives only reasons whose values left the usual training range, or the range of the training rows nearest them, else an outer tenth of training', async () => {
    const rows = [...fresh.slice(0, 300), ...attacks().map((a) => a.row)]
    const { topFeatures } = await ensemble.score(rows, { explain: 'all' })
    const reasons = topFeatures.flatMap((top) => top!)
    expect(reasons.length).toBeGreaterThan(0)
    let againstNearest = 0
    let outerTenths = 0
    for (const top of topFeatures) {
      // the outer tenths only where neither of the others named anything
      const tenths = top!.filter((t) => t.outerTenth !== undefined).length
      expect(tenths === 0 || tenths === top!.length, top!.map((t) => t.text).join('; ')).toBe(true)
    }
    for (const t of reasons) {
      expect(t.text, t.text).not.toMatch(/within training|as in /)
      if (t.outerTenth !== undefined) {
        outerTenths++
        expect(t.share, t.text).toBeGreaterThanOrEqual(0.1)
        const b = artifact.baselines[t.index]!
        expect(t.outerTenth === b.p90 ? t.value > b.p90 : t.outerTenth === b.p10 && t.value < b.p10!, t.text).toBe(true)
        expect(t.value >= b.p1! && t.value <= b.p99 && !t.nearest, t.text).toBe(true)
        expect(t.text, t.text).toMatch(/, (above|below) 90% of training rows \(p(90|10) /)
        continue
      }
      if (t.nearest) {
        againstNearest++
        expect(t.value < t.nearest.low || t.value > t.nearest.high, t.text).toBe(true)
        expect(t.text, t.text).toMatch(/, nearest rows of the training sample /)
        continue
      }
      const b = artifact.baselines[t.index]!
      const share = t.value === 1 ? b.mean! : 1 - b.mean!
      const rareFlag = /, (un)?set in /.test(t.text) && share < 0.5
      expect(rareFlag || t.value < b.p1! || t.value > b.p99 || b.min === b.max, t.text).toBe(true)
    }
    expect(againstNearest).toBeGreaterThan(0)
    expect(outerTenths).toBeGreaterThan(0)
  })

  it('explains with an artifact from before p1, the minimum marking the low end', async () => {
    // such an artifact has no p10 and p90 either
    const { bytes } = encodeEnsembleArtifact({ ...artifact, baselines: artifact.baselines.map(({ p1: _p1, p10: _p10, p90: _p90, ...b }) => b) })
    const older = await loadEnsemble(decodeEnsembleArtifact(bytes), registry)
    try {
      const [bruteForce] = attacks()
      expect(await older.explain(bruteForce!.row)).toEqual(await ensemble.explain(bruteForce!.row))
      const seconds = at('seconds_since_previous')
      const { min, p1 } = artifact.baselines[seconds]!
      const row = [...fresh[3]!]
      row[seconds] = (min + p1!) / 2
      // not below the old artifact's low end: named, if at all, against the nearest rows only
      expect((await older.explain(row)).find((t) => t.feature === 'seconds_since_previous')?.text ?? '').not.toMatch(/training (p1|min)/)
      row[seconds] = min / 2
      expect((await older.explain(row)).find((t) => t.feature === 'seconds_since_previous')?.text).toBe(`seconds_since_previous ${formatNumber(min / 2)}, training min ${formatNumber(min)}`)
    } finally {
      await older.close()
    }
  })

  it('explains the rows at or above the threshold by default, all or none on request', async () => {
    const rows = [...fresh.slice(0, 50), ...attacks().map((a) => a.row)]
    const alerts = await ensemble.score(rows)
    alerts.topFeatures.forEach((top, i) => expect(top !== undefined, `row ${i}`).toBe(alerts.score[i]! >= ensemble.threshold))
    expect((await ensemble.score(rows, { explain: 'all' })).topFeatures.every((t) => t !== undefined)).toBe(true)
    expect((await ensemble.score(rows, { explain: 'none' })).topFeatures.every((t) => t === undefined)).toBe(true)
  })

  it('explains from the alerter\'s threshold when it is below the model\'s, so that no alert lacks its reasons', async () => {
    const rows = [...fresh.slice(0, 50), ...attacks().map((a) => a.row)]
    const { score } = await ensemble.score(rows, { explain: 'none' })
    const lower = [...score].sort((a, b) => a - b)[10]!
    expect(lower).toBeLessThan(ensemble.threshold)
    const explained = await ensemble.score(rows, { alertThreshold: lower })
    explained.topFeatures.forEach((top, i) => expect(top !== undefined, `row ${i}`).toBe(score[i]! >= lower))
    // a higher one does not take explanations from scores that alert at the model's own
    const higher = await ensemble.score(rows, { alertThreshold: 1 })
    higher.topFeatures.forEach((top, i) => expect(top !== undefined, `row ${i}`).toBe(score[i]! >= ensemble.threshold))
  })

  it('scores the same after encoding, with the same sha256', async () => {
    const { bytes, sha256 } = encodeEnsembleArtifact(artifact)
    const decoded = decodeEnsembleArtifact(bytes)
    expect(decoded).toEqual(artifact)
    expect(encodeEnsembleArtifact(decoded).sha256).toBe(sha256)
    const rows = [...fresh.slice(0, 200), ...attacks().map((a) => a.row)]
    const reloaded = await loadEnsemble(decoded, registry)
    expect(await reloaded.score(rows, { explain: 'all' })).toEqual(await ensemble.score(rows, { explain: 'all' }))
  })

  it('refuses a format 1 artifact, a member it does not know, and rows it cannot score', async () => {
    // the single-forest artifacts of before the ensemble
    const formatOne = gzipSync(JSON.stringify({ format: 1, algorithm: 'isolation-forest', featureNames: ['a', 'b'], forest: { trainingSize: 3, trees: [] }, calibration: [] }))
    expect(() => decodeEnsembleArtifact(formatOne)).toThrow(/unsupported artifact/)
    await expect(loadEnsemble(artifact, { hbos })).rejects.toThrow(/unknown ensemble member/)
    await expect(ensemble.score([fresh[0]!.slice(1)])).rejects.toThrow(/features/)
    await expect(ensemble.score([Object.assign([...fresh[0]!], { 4: NaN })])).rejects.toThrow(/NaN/)
  })
})

describe('member weights', () => {
  it('a member alone orders rows as that member does; weights move the score toward the heavier member', { timeout: 60_000 }, async () => {
    const rows = fresh.slice(0, 300)
    const only = async (weights: number[]) => {
      const members = [{ kind: 'hbos' }, { kind: 'knn-distance' }].map((m, i) => ({ ...m, weight: weights[i]! }))
      const trained = await trainEnsemble(training, names, { ...config, members }, registry)
      return (await loadEnsemble(trained, registry)).score(rows, { explain: 'none' })
    }
    const hbosOnly = await only([1, 0])
    const order = (values: Float64Array) => Array.from(values.keys()).sort((a, b) => values[a]! - values[b]! || a - b)
    const sameOrder = (a: Float64Array, b: Float64Array) => {
      for (let i = 0; i < a.length; i++) for (let j = 0; j < a.length; j++) if (a[i]! < a[j]!) expect(b[i]).toBeLessThanOrEqual(b[j]!)
    }
    sameOrder(hbosOnly.members[0]!, hbosOnly.score)
    expect(order(hbosOnly.score)).not.toEqual(order(hbosOnly.members[1]!))

    // As knn-distance's weight grows, the score agrees more with knn-distance than with hbos.
    const agreement = (a: Float64Array, b: Float64Array) => {
      let same = 0
      for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) same += Math.sign(a[i]! - a[j]!) === Math.sign(b[i]! - b[j]!) ? 1 : 0
      return same
    }
    const leaningKnn = await only([1, 9])
    expect(agreement(leaningKnn.score, leaningKnn.members[1]!)).toBeGreaterThan(agreement(leaningKnn.score, leaningKnn.members[0]!))
    expect(agreement(hbosOnly.score, hbosOnly.members[0]!)).toBeGreaterThan(agreement(hbosOnly.score, hbosOnly.members[1]!))
  })
})

describe('asynchronous members', () => {
  // An ONNX session scores asynchronously; the ensemble awaits whatever a member returns.
  const asyncHbos: EnsembleMemberKind = {
    kind: 'async-hbos',
    defaults: hbos.defaults,
    async train(rows, params, seed) {
      return asynchronous(hbos.train(rows, params, seed))
    },
    async load(state) {
      return asynchronous(hbos.load(state))
    },
  }
  let closes = 0
  function asynchronous(d: ReturnType<typeof hbos.train>) {
    return {
      kind: 'async-hbos',
      score: async (rows: readonly ArrayLike<number>[]) => d.score(rows),
      explain: async (row: ArrayLike<number>) => d.explain!(row),
      toJSON: () => d.toJSON(),
      close: async () => void (closes += 1),
    }
  }

  it('score as their synchronous twins do', async () => {
    const small = { ...config, members: [{ kind: 'hbos' }] }
    const sync = await loadEnsemble(await trainEnsemble(training, names, small, registry), registry)
    const both = { ...registry, 'async-hbos': asyncHbos }
    const async = await loadEnsemble(await trainEnsemble(training, names, { ...small, members: [{ kind: 'async-hbos' }] }, both), both)
    const rows = [...fresh.slice(0, 100), ...attacks().map((a) => a.row)]
    expect(await async.score(rows, { explain: 'all' })).toEqual(await sync.score(rows, { explain: 'all' }))
  })

  it('are closed once: after training, and when the ensemble is closed', async () => {
    const both = { ...registry, 'async-hbos': asyncHbos }
    closes = 0
    const artifact = await trainEnsemble(training.slice(0, 500), names, { ...config, members: [{ kind: 'async-hbos' }, { kind: 'hbos' }] }, both)
    expect(closes).toBe(1)
    const loaded = await loadEnsemble(artifact, both)
    await Promise.all([loaded.close(), loaded.close()])
    await loaded.close()
    expect(closes).toBe(2)
  })
})

describe('a member that cannot explain', () => {
  // A user's ONNX model scores and says nothing of why: where it carried most of a row's score, the
  // members that explain name no outer tenth for it (the alerter names the members instead).
  const mute: EnsembleMemberKind = {
    kind: 'mute-hbos',
    defaults: hbos.defaults,
    train: (rows, params, seed) => silenced(hbos.train(rows, params, seed)),
    load: (state) => silenced(hbos.load(state)),
  }
  const silenced = (d: ReturnType<typeof hbos.train>) => ({ kind: 'mute-hbos', score: (rows: readonly ArrayLike<number>[]) => d.score(rows), toJSON: () => d.toJSON() })

  it('is counted as carrying all of a score it overflowed, none of one only the others overflowed', () => {
    expect(explainedPartOf(Infinity, Infinity)).toBe(1)
    expect(explainedPartOf(3, Infinity)).toBe(0)
    expect(explainedPartOf(1, 4)).toBe(0.25)
    expect(explainedPartOf(0, 0)).toBe(1)
  })

  it('leaves the outer tenths unnamed on rows it carried', async () => {
    const withMute = { ...registry, 'mute-hbos': mute }
    const members = [{ kind: 'mute-hbos', weight: 3 }, { kind: 'knn-distance', weight: 1 }]
    const loaded = await loadEnsemble(await trainEnsemble(training, names, { ...config, members }, withMute), withMute)
    const rows = [...fresh.slice(0, 1000), ...attacks().map((a) => a.row)]
    const scored = await loaded.score(rows, { explain: 'all' })
    const surprisal = (p: number) => -Math.log1p(-Math.min(p, 1 - 1e-12))
    let carriedByMute = 0
    let tenthsNamed = 0
    rows.forEach((_, i) => {
      const [muteScore, knnScore] = scored.members.map((m) => surprisal(m[i]!))
      const explained = knnScore! / (3 * muteScore! + knnScore!)
      const tenths = scored.topFeatures[i]!.filter((t) => t.outerTenth !== undefined).length
      if (explained < 0.5) {
        carriedByMute++
        expect(tenths, scored.topFeatures[i]!.map((t) => t.text).join('; ')).toBe(0)
      } else tenthsNamed += tenths
    })
    expect(carriedByMute).toBeGreaterThan(0)
    expect(tenthsNamed).toBeGreaterThan(0)
    await loaded.close()
  })
})

describe('the default ensemble on repeated rows', () => {
  // The trainer's default TRAIN_MEMBERS: a window of one busy entity can hold a handful of distinct feature vectors.
  const defaults: EnsembleConfig = { seed: 3, members: [{ kind: 'isolation-forest' }, { kind: 'gaussian-mixture' }, { kind: 'knn-distance', weight: 4 }] }
  const [usual, rare] = inliers(2, 21)
  const unseen = Object.assign([...usual!], { [at('auth_attempts')]: 40, [at('auth_failures')]: 38 })

  it.each([
    ['20 identical rows', new Array(20).fill(usual)],
    ['200 identical rows', new Array(200).fill(usual)],
    ['190 copies of one row and 10 of another', [...new Array(190).fill(usual), ...new Array(10).fill(rare)]],
  ])('trains and scores on %s', async (_, rows: number[][]) => {
    const trained = await trainEnsemble(rows, names, defaults)
    const loaded = await loadEnsemble(trained)
    try {
      const { score } = await loaded.score([usual!, unseen])
      for (const s of score) expect(s >= 0 && s <= 1).toBe(true)
      expect(score[1]).toBeGreaterThan(score[0]!)
      expect(score[1]).toBeGreaterThanOrEqual(loaded.threshold)
    } finally {
      await loaded.close()
    }
  })
})

describe('the default ensemble on a feature constant in training', () => {
  it('alerts on ordinary rows that leave it, naming it as never varying', async () => {
    const defaults: EnsembleConfig = { seed: 3, members: [{ kind: 'isolation-forest' }, { kind: 'gaussian-mixture' }, { kind: 'knn-distance', weight: 4 }] }
    const loaded = await loadEnsemble(await trainEnsemble(training, names, defaults))
    try {
      // user_agent_is_scanner is 0 in every ordinary row of the fixture.
      const scanner = at('user_agent_is_scanner')
      const rows = fresh.slice(0, 200)
      const { score, topFeatures } = await loaded.score(rows.map((row) => Object.assign([...row], { [scanner]: 1 })))
      expect(score.every((s) => s >= loaded.threshold)).toBe(true)
      for (const top of topFeatures) expect(top![0]).toMatchObject({ feature: 'user_agent_is_scanner', text: 'user_agent_is_scanner 1, always 0 in training' })
      const unchanged = await loaded.score(rows, { explain: 'none' })
      expect(unchanged.score.filter((s) => s >= loaded.threshold).length).toBeLessThan(10)
    } finally {
      await loaded.close()
    }
  })
})

describe('the built-in registry', () => {
  it('holds the isolation forest beside the members here', () => {
    expect(Object.keys(ensembleMembers).sort()).toEqual(['gaussian-mixture', 'hbos', 'isolation-forest', 'knn-distance'])
  })
})

describe('explanation text', () => {
  const baseline = { p50: 0, p99: 0.08, min: 0, max: 0.5 }
  it('quotes p99 above the usual range, its low end below it, and the extreme when the value passes it', () => {
    expect(describeFeatureValue('auth_failure_ratio', 0.94, baseline)).toBe('auth_failure_ratio 0.94, training p99 0.08, max 0.5')
    expect(describeFeatureValue('auth_failure_ratio', 0.3, baseline)).toBe('auth_failure_ratio 0.3, training p99 0.08')
    expect(describeFeatureValue('seconds_since_previous', 0.5, { p50: 20, p99: 600, min: 1, max: 600 })).toBe('seconds_since_previous 0.5, training min 1')
    expect(describeFeatureValue('seconds_since_previous', 0.5, { p1: 2, p50: 20, p99: 600, min: 1, max: 600 })).toBe('seconds_since_previous 0.5, training p1 2, min 1')
  })

  it('says when the feature never varied in training', () => {
    const constant = { p50: 0, p99: 0, min: 0, max: 0 }
    expect(describeFeatureValue('user_agent_is_scanner', 1, constant)).toBe('user_agent_is_scanner 1, always 0 in training')
    expect(describeFeatureValue('is_privileged_user', 0, { p50: 1, p99: 1, min: 1, max: 1 })).toBe('is_privileged_user 0, always 1 in training')
    expect(describeFeatureValue('user_agent_is_scanner', 0, constant)).toBe('user_agent_is_scanner 0, as in every training row')
  })

  it('gives a flag the share of training rows it was set in', () => {
    const rare = { p50: 0, p99: 1, min: 0, max: 1, mean: 0.023 }
    expect(describeFeatureValue('is_privileged_user', 1, rare)).toBe('is_privileged_user 1, set in only 2.3% of training rows')
    expect(describeFeatureValue('is_privileged_user', 0, { ...rare, mean: 0.98 })).toBe('is_privileged_user 0, unset in only 2% of training rows')
    expect(describeFeatureValue('is_privileged_user', 1, { ...rare, mean: 0.00004 })).toBe('is_privileged_user 1, set in under 0.01% of training rows')
    // An artifact from before the share: the percentiles, as before; a count is no flag.
    expect(describeFeatureValue('is_privileged_user', 1, { p50: 0, p99: 1, min: 0, max: 1 })).toBe('is_privileged_user 1, within training min 0 to p99 1')
    expect(describeFeatureValue('auth_failures', 2, rare)).toBe('auth_failures 2, training max 1')
  })

  it('writes numbers short', () => {
    expect([8e9, 75_512, 1234, 3.14159, 0.0812345, 0, -2].map(formatNumber)).toEqual(['8B', '75.5K', '1234', '3.14', '0.0812', '0', '-2'])
  })
})
