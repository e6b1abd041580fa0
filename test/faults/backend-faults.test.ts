/**
 * Faults of the backend (REL-01, REL-02, REL-04, REL-16): a steady gateway stream into
 * `kawasan broker` (broker with ingest inside, a real child process) and a private InfluxDB; the
 * fault is injected, healed, and every reading sent is compared with what InfluxDB holds.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { type LocalInfluxDB, startLocalInfluxDB } from '../../infra/local/influxdb.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { startKawasan } from '../helpers/kawasan-process.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { Ledger, report } from './ledger.js'
import { SteadyPublisher } from './steady-publisher.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

async function setup(options: { viaProxy?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-fault-'))
  let influx: LocalInfluxDB = await startLocalInfluxDB({ dataDir: join(dir, 'influx') })
  cleanups.push(async () => {
    await influx.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  let influxUrl = influx.url
  let proxy: TcpProxy | undefined
  if (options.viaProxy) {
    proxy = new TcpProxy(await freePort(), '127.0.0.1', influx.port)
    await proxy.start()
    cleanups.push(() => proxy!.stop())
    influxUrl = `http://127.0.0.1:${proxy.port}`
  }
  const db = new InfluxClient({ url: influx.url, database: 'kawasan' })
  const mqttPort = await freePort()
  const opsPort = await freePort()
  const env = {
    INFLUX_URL: influxUrl,
    MQTT_PORT: String(mqttPort),
    SIMULATOR_ENABLED: 'false',
    KAWASAN_DATA_DIR: join(dir, 'data'),
  }
  let broker = await startKawasan('broker', env, opsPort)
  cleanups.push(() => broker.kill())
  const ledger = new Ledger()
  const publisher = new SteadyPublisher(`mqtt://127.0.0.1:${mqttPort}`, ledger, {
    username: 'gw-plant-a',
    password: 'demo-gw-plant-a',
    plant: 'plant-a',
    devices: ['grid-main', 'pv-roof', 'genset-1'],
    perSecond: 150,
    t0: Date.UTC(2026, 4, 1),
  })
  await publisher.start()
  return {
    db,
    ledger,
    publisher,
    proxy,
    restartBroker: async (signal: NodeJS.Signals) => {
      await broker.kill(signal)
      broker = await startKawasan('broker', env, opsPort)
    },
    stopInflux: () => influx.stop(),
    startInflux: async () => {
      influx = await startLocalInfluxDB({ dataDir: join(dir, 'influx'), port: influx.port })
    },
  }
}

async function finishAndReport(
  name: string,
  s: Awaited<ReturnType<typeof setup>>,
  started: number,
  note?: string,
) {
  await s.publisher.finish(120_000)
  const r = await s.ledger.compare(s.db)
  report({
    case: name,
    ...r,
    seconds: Math.round((performance.now() - started) / 1000),
    ...(note ? { note } : {}),
  })
  expect(r.sent).toBeGreaterThan(500)
  expect(r.lost).toBe(0)
  expect(r.duplicated).toBe(0)
}

describe('backend faults', () => {
  it('kill -9 of broker+ingest mid-stream loses and duplicates nothing (REL-01)', async () => {
    const started = performance.now()
    const s = await setup()
    await sleep(4000)
    await s.restartBroker('SIGKILL')
    await sleep(4000)
    await finishAndReport('kill -9 broker+ingest mid-stream', s, started)
  })

  it('a graceful broker restart loses and duplicates nothing (REL-10)', async () => {
    const started = performance.now()
    const s = await setup()
    await sleep(4000)
    await s.restartBroker('SIGTERM')
    await sleep(4000)
    await finishAndReport('broker restart (SIGTERM)', s, started)
  })

  it('InfluxDB stopped for 30 s: acknowledgements are held, then everything is written (REL-04)', async () => {
    const started = performance.now()
    const s = await setup()
    await sleep(3000)
    await s.stopInflux()
    await sleep(30_000)
    await s.startInflux()
    await sleep(3000)
    await finishAndReport('InfluxDB stopped for 30 s', s, started)
  })

  it('InfluxDB slow (every chunk delayed 500 ms by a proxy) loses and duplicates nothing (REL-16)', async () => {
    const started = performance.now()
    const s = await setup({ viaProxy: true })
    s.proxy!.delayMs = 500
    await sleep(15_000)
    s.proxy!.delayMs = 0
    await finishAndReport('InfluxDB slow (500 ms per chunk)', s, started)
  })
})
