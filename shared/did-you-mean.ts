/**
 * "Did you mean" for misspelled setting names and variables: the closest known name by edit
 * distance (a swap of two neighbours counts as one edit, so `feul` finds `fuel`), by case or
 * separators (`rated_kW` finds `rated_kw`), or a known name the word starts with (`max_mbytes`
 * finds `max_mb`).
 */
export function didYouMean(word: string, known: Iterable<string>): string | undefined {
  const w = normalise(word)
  let best: string | undefined
  let bestScore = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    if (candidate === word) continue
    const c = normalise(candidate)
    let score = c === w ? 0 : distance(w, c)
    const limit = Math.max(1, Math.floor(Math.max(w.length, c.length) / 4))
    if (score > limit && c.length >= 3 && (w.startsWith(c) || c.startsWith(w))) score = limit
    if (score <= limit && score < bestScore) {
      best = candidate
      bestScore = score
    }
  }
  return best
}

function normalise(s: string): string {
  return s.toLowerCase().replace(/[-_.\s]/g, '')
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function distance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}
