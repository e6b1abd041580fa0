// The live feed's stop drains: a read under way finishes before the parts after the API (the
// embedded InfluxDB among them) stop, and a read that fails once stopping is not a warning.
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { Logger } from '../../shared/logger.js'
import { loadSiteIndex } from '../../shared/site-model-file.js'
import { LiveFeed } from './live-feed.js'
import type { StoreReads } from './store-reads.js'

const site = loadSiteIndex('infra/examples/cikarang/site.yaml')

/** A store whose `latestLiveTime` answers when the test says: a read held under way. */
function heldStore() {
  const pending: { fail: (err: Error) => void; answer: (t: number | null) => void }[] = []
  const reads = {
    latestLiveTime: () =>
      new Promise<number | null>((answer, fail) => {
        pending.push({ answer, fail })
      }),
    latestLive: async () => [],
  } as unknown as StoreReads
  return { reads, pending }
}

function capture() {
  const lines: { level: number; msg: string }[] = []
  const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) })
  return { log: log as unknown as Logger, warnings: () => lines.filter((l) => l.level >= 40) }
}

const tick = () => new Promise((r) => setTimeout(r, 20))

describe('LiveFeed.stop', () => {
  it('waits for the read under way, and a failure once stopping is no warning', async () => {
    const { reads, pending } = heldStore()
    const { log, warnings } = capture()
    const feed = new LiveFeed({ reads, site, pollMs: 60_000, log })
    feed.start()
    expect(pending).toHaveLength(1)
    let stopped = false
    const stopping = feed.stop().then(() => {
      stopped = true
    })
    await tick()
    expect(stopped).toBe(false)
    pending[0]!.fail(new Error('the time-series store did not answer; try again shortly'))
    await stopping
    expect(stopped).toBe(true)
    expect(warnings()).toEqual([])
    await feed.stop() // idempotent
    feed.notify()
    expect(pending).toHaveLength(1) // no read after stop
  })

  it('still warns when a read fails while running', async () => {
    const { reads, pending } = heldStore()
    const { log, warnings } = capture()
    const feed = new LiveFeed({ reads, site, pollMs: 60_000, log })
    feed.start()
    pending[0]!.fail(new Error('the time-series store did not answer; try again shortly'))
    await feed.settled()
    expect(warnings().map((w) => w.msg)).toEqual(['live feed: reading the snapshot failed'])
    await feed.stop()
  })
})
