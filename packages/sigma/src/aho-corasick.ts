/**
 * Finds which of many literals occur in a text, in one pass over the text whatever their number
 * (Aho–Corasick). ASCII transitions are a dense table (one array read per character); other
 * characters follow a map with failure links.
 */
export interface LiteralScanner {
  /** calls `hit(i)` for the index of each literal found (possibly more than once per literal) */
  scan(text: string, hit: (literal: number) => void): void
  readonly size: number
}

const ASCII = 128

/** `literals` must be distinct and non-empty. */
export function createLiteralScanner(literals: readonly string[]): LiteralScanner {
  // Trie
  const children: Map<number, number>[] = [new Map()]
  const output: number[] = [-1]
  literals.forEach((lit, i) => {
    let s = 0
    for (let k = 0; k < lit.length; k++) {
      const c = lit.charCodeAt(k)
      let next = children[s]!.get(c)
      if (next === undefined) {
        next = children.push(new Map()) - 1
        output.push(-1)
        children[s]!.set(c, next)
      }
      s = next
    }
    output[s] = i
  })
  const n = children.length
  const fail = new Int32Array(n)
  // Nearest state on the failure chain that ends a literal (-1: none).
  const dict = new Int32Array(n).fill(-1)
  const table = new Int32Array(n * ASCII)

  // Breadth-first: failure links and the dense ASCII transitions.
  const queue: number[] = []
  for (let c = 0; c < ASCII; c++) {
    const child = children[0]!.get(c)
    table[c] = child ?? 0
  }
  for (const child of children[0]!.values()) {
    fail[child] = 0
    queue.push(child)
  }
  for (let head = 0; head < queue.length; head++) {
    const s = queue[head]!
    const f = fail[s]!
    dict[s] = output[f] !== -1 ? f : dict[f]!
    for (let c = 0; c < ASCII; c++) {
      const child = children[s]!.get(c)
      table[s * ASCII + c] = child ?? table[f * ASCII + c]!
    }
    for (const [c, child] of children[s]!) {
      fail[child] = c < ASCII ? table[f * ASCII + c]! : gotoSlow(f, c)
      queue.push(child)
    }
  }

  function gotoSlow(s: number, c: number): number {
    for (;;) {
      const next = children[s]!.get(c)
      if (next !== undefined) return next
      if (s === 0) return 0
      s = fail[s]!
    }
  }

  return {
    size: literals.length,
    scan(text, hit) {
      let s = 0
      for (let k = 0; k < text.length; k++) {
        const c = text.charCodeAt(k)
        s = c < ASCII ? table[s * ASCII + c]! : gotoSlow(s, c)
        for (let o = output[s] !== -1 ? s : dict[s]!; o !== -1; o = dict[o]!) {
          hit(output[o]!)
        }
      }
    },
  }
}
