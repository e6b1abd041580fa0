import { randomBytes, randomInt } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { copyBytes, viewOf } from '../src/byte-copy.js'

/** A string of code points from every UTF-8 length, DEL and a lone surrogate among them. */
function randomText(length: number): string {
  const pick = [
    () => randomInt(0x20, 0x80), // ASCII, DEL (0x7F) included
    () => randomInt(0x80, 0x800),
    () => randomInt(0x800, 0xd800),
    () => randomInt(0xe000, 0x10000),
    () => randomInt(0x10000, 0x110000), // four bytes, lead 0xF0–0xF4
    () => 0xd800, // a lone surrogate: written as EF BF BD
  ]
  let s = ''
  for (let k = 0; k < length; k++) {
    const cp = (pick[randomInt(pick.length)] as () => number)()
    s += cp === 0xd800 ? '\ud800' : String.fromCodePoint(cp)
  }
  return s
}

describe('copyBytes', () => {
  it('copies what Buffer.copy copies, at any offset and length, optimised or not', () => {
    // Random bytes, with a NaN's bit pattern planted every 16 bytes: the float64 path must carry it
    // bit for bit (the engine must not rewrite a NaN's payload on the way).
    const src = randomBytes(1 << 16)
    for (let k = 0; k + 8 <= src.length; k += 16) {
      src[k + 6] = 0xf1
      src[k + 7] = 0x7f
    }
    const srcView = viewOf(src)
    // Enough calls for V8 to optimise copyBytes, and the check made on every one of them.
    for (let round = 0; round < 20_000; round++) {
      const len = randomInt(0, 300)
      const from = randomInt(0, src.length - len + 1)
      const dst = Buffer.alloc(len + 64, 0xaa)
      const at = randomInt(0, 64)
      const expected = Buffer.alloc(len + 64, 0xaa)
      src.copy(expected, at, from, from + len)
      copyBytes(src, srcView, from, dst, viewOf(dst), at, len)
      if (!dst.equals(expected)) expect.fail(`round ${round}: ${len} bytes from ${from} to ${at} differ`)
    }
  })

  it('copies from and to views that start inside their ArrayBuffer', () => {
    const pool = randomBytes(4096)
    const src = pool.subarray(13, 1013)
    const out = Buffer.alloc(2048)
    const dst = out.subarray(7, 1207)
    copyBytes(src, viewOf(src), 5, dst, viewOf(dst), 3, 990)
    expect(dst.subarray(3, 993).equals(src.subarray(5, 995))).toBe(true)
    expect(out.subarray(0, 10).equals(Buffer.alloc(10))).toBe(true)
    expect(out.subarray(1000, 2048).equals(Buffer.alloc(1048))).toBe(true)
  })

  it('never meets a NaN in UTF-8 text: no 8 bytes of it, read little-endian, are one', () => {
    for (let round = 0; round < 200; round++) {
      const bytes = Buffer.from(randomText(400), 'utf8')
      const view = viewOf(bytes)
      for (let k = 0; k + 8 <= bytes.length; k++)
        if (Number.isNaN(view.getFloat64(k, true))) expect.fail(`a NaN at ${k} of ${bytes.toString('hex')}`)
    }
  })
})
