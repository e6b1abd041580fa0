/**
 * Interoperability: the same flow through mosquitto (Debian's 2.0) with ingest as an ordinary MQTT
 * subscriber (`kawasan ingest`), using the broker settings of infra/mosquitto/kawasan.conf.
 * Exact counts of points and dead letters, then REL-01: ingest killed with SIGKILL mid-stream and
 * restarted loses nothing, since its persistent sessions keep the unacknowledged messages queued.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { type LocalMosquitto, startLocalMosquitto } from '../../infra/local/mosquitto.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually, freshDatabase } from '../helpers/influx.js'
import { type KawasanProcess, startKawasan } from '../helpers/kawasan-process.js'
import { payload } from '../helpers/stack.js'

let mosquitto: LocalMosquitto
let ingest: KawasanProcess | undefined
let gw: MqttClient
beforeAll(async () => {
  mosquitto = await startLocalMosquitto({ dataDir: mkdtempSync(join(tmpdir(), 'kawasan-mosq-')) })
  gw = mqtt.connect(mosquitto.url, { clientId: 'gw-mosq-test', clean: false, reconnectPeriod: 200 })
  await new Promise<void>((resolve) => gw.once('connect', () => resolve()))
})
afterAll(async () => {
  gw?.end(true)
  await ingest?.kill()
  await mosquitto?.stop()
})

async function startIngest(database: string, opsPort: number): Promise<KawasanProcess> {
  const env = {
    INFLUX_URL: inject('influxUrl'),
    INFLUX_DATABASE: database,
    INGEST_MQTT_URL: mosquitto.url,
    INGEST_CONNECTIONS: '3',
    INGEST_MODE: 'subscriber',
    KAWASAN_DATA_DIR: 'test-output/mosq',
  }
  return startKawasan('ingest', { ...env, INGEST_MQTT_USERNAME: '', INGEST_MQTT_PASSWORD: '' }, opsPort)
}

/** Reading i (value i, one second apart) from the grid meter of plant i mod 4. */
function publishReading(i: number, t0: number): Promise<unknown> {
  const plant = ['plant-a', 'plant-b', 'plant-c', 'plant-d'][i % 4]!
  return gw.publishAsync(
    telemetryTopic('cikarang', plant, 'grid-main'),
    payload(i, [{ ts: t0 + i * 1000, m: { p_kw: i } }]),
    {
      qos: 1,
    },
  )
}

describe('ingest through mosquitto (subscriber mode)', () => {
  it('stores exactly N valid readings and M dead letters', async () => {
    const db = await freshDatabase('mosq')
    ingest = await startIngest(db.database, await freePort())
    const T0 = Date.UTC(2026, 6, 1)
    const N = 400
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < N; i++) sends.push(publishReading(i, T0))
    const invalid = [
      '{oops',
      payload(1, [{ ts: T0, m: { p_kw: null } }]),
      payload(2, [{ ts: T0, m: { nope: 1 } }]),
    ]
    for (const bad of invalid)
      sends.push(gw.publishAsync(telemetryTopic('cikarang', 'plant-b', 'pv-roof'), bad, { qos: 1 }))
    await Promise.all(sends)
    // mosquitto acknowledged the publishes; ingest writes them as it receives them.
    expect(await eventually(() => countPoints(db, 'readings', 'p_kw'), N)).toBe(N)
    expect(await eventually(() => countPoints(db, 'deadletter', 'detail'), invalid.length)).toBe(
      invalid.length,
    )
    await ingest.kill('SIGTERM')
    ingest = undefined
  })

  it('loses nothing when ingest is killed with SIGKILL mid-stream and restarted (REL-01)', async () => {
    const db = await freshDatabase('mosqkill')
    const opsPort = await freePort()
    ingest = await startIngest(db.database, opsPort)
    const T0 = Date.UTC(2026, 7, 1)
    const N = 2000
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < N; i++) {
      sends.push(publishReading(i, T0))
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 20))
      if (i === 1000) {
        await ingest.kill('SIGKILL')
        ingest = await startIngest(db.database, opsPort)
      }
    }
    await Promise.all(sends)
    expect(await eventually(() => countPoints(db, 'readings', 'p_kw'), N, 30_000)).toBe(N)
    const sums = await db.query('SELECT sum("p_kw") FROM readings')
    expect(sums[0]?.rows[0]?.sum).toBe((N * (N - 1)) / 2)
  })
})
