/**
 * REL-01 for the in-broker mode: `kawasan broker` (broker + ingest in one process) is killed with
 * SIGKILL mid-stream and started again. The gateway keeps every unacknowledged message and resends
 * it on reconnect [MQTT-4.4.0-1]; since nothing was acknowledged before InfluxDB held it, nothing is
 * lost, and redelivered messages overwrite themselves (same device and timestamp), so nothing is
 * duplicated.
 */
import mqtt from 'mqtt'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { type KawasanProcess, startKawasan } from '../helpers/kawasan-process.js'
import { demoPasswords } from '../helpers/site.js'
import { payload } from '../helpers/stack.js'

let proc: KawasanProcess | undefined
afterAll(async () => {
  await proc?.kill()
})

describe('ingest restart mid-stream', () => {
  it('loses nothing and duplicates nothing when the broker+ingest process is killed with SIGKILL', async () => {
    const db = await freshDatabase('restart')
    const [mqttPort, opsPort] = [await freePort(), await freePort()]
    const env = {
      INFLUX_URL: inject('influxUrl'),
      INFLUX_DATABASE: db.database,
      MQTT_PORT: String(mqttPort),
      SIMULATOR_ENABLED: 'false',
      KAWASAN_DATA_DIR: 'test-output/restart',
    }
    proc = await startKawasan('broker', env, opsPort)

    const gw = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'gw-restart-test',
      clean: false,
      username: 'gw-plant-d',
      password: demoPasswords()['gw-plant-d'],
      reconnectPeriod: 200,
    })
    await new Promise<void>((resolve) => gw.once('connect', () => resolve()))
    const N = 3000
    const T0 = Date.UTC(2026, 3, 1)
    let acked = 0
    const sends: Promise<unknown>[] = []
    let ackedAtKill = -1
    for (let i = 0; i < N; i++) {
      sends.push(
        gw
          .publishAsync(
            telemetryTopic('cikarang', 'plant-d', 'chp-1'),
            payload(i, [{ ts: T0 + i * 1000, m: { p_kw: i, fuel_m3: i * 0.25 } }]),
            { qos: 1 },
          )
          .then(() => acked++),
      )
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 20)) // a steady stream, not one burst
      if (ackedAtKill < 0 && acked >= 1000) {
        ackedAtKill = acked
        await proc.kill('SIGKILL')
        proc = await startKawasan('broker', env, opsPort)
      }
    }
    await Promise.all(sends)
    gw.end(true)
    expect(ackedAtKill).toBeGreaterThanOrEqual(1000) // the kill really happened mid-stream
    expect(ackedAtKill).toBeLessThan(N)
    expect(acked).toBe(N)
    expect(await countPoints(db, 'readings', 'p_kw', `"device" = 'chp-1'`)).toBe(N)
    // Values are the ones sent, so no redelivery overwrote a point with another reading's data.
    const sums = await db.query(`SELECT sum("p_kw") FROM readings WHERE "device" = 'chp-1'`)
    expect(sums[0]?.rows[0]?.sum).toBe((N * (N - 1)) / 2)
  }, 180_000) // two process starts under tsx: up to ~30 s each on a loaded machine
})
