/**
 * The heap collector against this process's real V8 heap: garbage in the old generation past the
 * step is collected by the part, without `--expose-gc` on the command line, and nothing runs when it
 * is off or stopped. Arrays of 200,000 doubles (1.6 MB each, unboxed in every V8) are allocated
 * straight into V8's large-object space, outside the young generation, so only a full collection
 * frees them. Small integers would not do: Node 24's V8 keeps them in less room (5 MB for what
 * took 6.6 MB on Node 20), under the test's margin.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HeapCollector, oldGenerationUsed } from '../src/heap-collector.js'

const MB = 1024 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** 8 MB or more in the old generation, unreachable once this returns. */
function oldGarbage(): void {
  const held: number[][] = []
  for (let i = 0; i < 5; i++) held.push(new Array<number>(200_000).fill(i + 0.5))
  expect(held.length).toBe(5)
}

const started: HeapCollector[] = []
function collector(stepMb: number): HeapCollector {
  const c = new HeapCollector({ stepMb, everyMs: 10 })
  started.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.part.stop()))
})

describe('heap collector', () => {
  it('collects old-generation garbage once it has grown by the step, and not before', async () => {
    const c = collector(4)
    await c.part.start(new AbortController().signal)
    expect(c.check()).toBe(false) // nothing has grown yet
    const before = oldGenerationUsed()
    oldGarbage()
    const grown = oldGenerationUsed()
    expect(grown - before).toBeGreaterThan(6 * MB)
    for (let i = 0; i < 100 && c.collections === 0; i++) await sleep(10)
    expect(c.collections).toBeGreaterThanOrEqual(1)
    expect(oldGenerationUsed()).toBeLessThan(grown - 6 * MB)
  })

  it('measures growth from what a collection kept, so live data does not make it collect again', async () => {
    const c = collector(4)
    await c.part.start(new AbortController().signal)
    await c.part.stop() // checked by hand from here
    const live = Array.from({ length: 5 }, (_, i) => new Array<number>(200_000).fill(i))
    oldGarbage()
    expect(c.check()).toBe(true)
    expect(c.check()).toBe(false) // what is live now is the new floor
    expect(live).toHaveLength(5)
  })

  it('does nothing with a step of 0', async () => {
    const c = collector(0)
    await c.part.start(new AbortController().signal)
    oldGarbage()
    await sleep(50)
    expect(c.check()).toBe(false)
    expect(c.collections).toBe(0)
  })

  it('stops once, for every caller, and reads the heap no more', async () => {
    const c = collector(4)
    await c.part.start(new AbortController().signal)
    const first = c.part.stop()
    expect(c.part.stop()).toBe(first)
    await first
    oldGarbage()
    await sleep(50)
    expect(c.collections).toBe(0)
  })

  it('leaves no gc() in the global scope', async () => {
    await collector(4).part.start(new AbortController().signal)
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined()
  })
})
