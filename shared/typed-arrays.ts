/** Typed-array columns grown by copying into a larger one (the edge agent's spool index, ingest's scanner). */

type Column = Float64Array | Int32Array | Uint32Array | Uint8Array

/** Copies `from` into the start of `to` (as large or larger) and returns `to`. */
export function grownInto<A extends Column>(from: A, to: A): A {
  to.set(from)
  return to
}
