/**
 * Copies short byte ranges (a reading, ~100 bytes) from scattered places without a call into C++
 * per range. `Buffer.copy` and `copyWithin` are native calls: each runs to its end before the next
 * range's load is issued, so a drain whose readings lie ~30 KB apart (one device's readings among
 * 200 devices' in a segment) waited out one cache and TLB miss after another, ~125 ns per reading.
 * This loop moves 8 bytes per load and store in JIT-compiled code, where the processor overlaps
 * the next ranges' misses with this one's: ~55 ns per reading in either order
 * (docs/PERFORMANCE.md, agent round 13).
 *
 * The 8 bytes travel as a float64, which x64 and arm64 load and store bit for bit. A float64 whose
 * bits are a NaN would be the only risk (an engine may rewrite a NaN's payload), and no window of
 * valid UTF-8 is one: read little-endian, its top two bytes would be 0x7F or 0xFF after a byte of
 * 0xF0–0xFF, and in UTF-8 0xF5–0xFF never occur and 0xF0–0xF4 are followed by 0x80–0xBF. What the
 * agent copies is the JSON it wrote itself; `byte-copy.test.ts` checks random bytes too.
 */

/** A view for copyBytes: one per buffer, made once (a DataView per range would be garbage). */
export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * Copies `len` bytes at `from` of `src` to `at` of `dst` (views of those buffers, see viewOf).
 * Sixteen bytes per turn, both loaded before either is stored, and the last 1–7 bytes as one
 * 8-byte copy that overlaps bytes already copied (the same values) instead of a byte loop: a
 * ~100-byte reading took half the time of 8 bytes per turn and a byte loop (docs/PERFORMANCE.md,
 * agent round 16).
 */
export function copyBytes(
  src: Uint8Array,
  srcView: DataView,
  from: number,
  dst: Uint8Array,
  dstView: DataView,
  at: number,
  len: number,
): void {
  if (len < 8) {
    for (let k = 0; k < len; k++) dst[at + k] = src[from + k] as number
    return
  }
  let k = 0
  for (; k + 16 <= len; k += 16) {
    const a = srcView.getFloat64(from + k, true)
    const b = srcView.getFloat64(from + k + 8, true)
    dstView.setFloat64(at + k, a, true)
    dstView.setFloat64(at + k + 8, b, true)
  }
  if (k + 8 <= len) {
    dstView.setFloat64(at + k, srcView.getFloat64(from + k, true), true)
    k += 8
  }
  if (k < len) dstView.setFloat64(at + len - 8, srcView.getFloat64(from + len - 8, true), true)
}
