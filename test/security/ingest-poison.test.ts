/**
 * Issue 11, bad input as a hostile or buggy gateway sends it: the real aedes broker with ingest
 * inside, real mqtt.js gateways, Debian's `mosquitto_pub` as the client nobody here wrote, a real
 * InfluxDB. A poison message is acknowledged as a dead letter and its valid neighbour stored; no
 * timestamp can make InfluxDB create shards for years; `__proto__` names are dead-lettered.
 */
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDebianPackage } from '../../infra/local/child-server.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually } from '../helpers/influx.js'
import { demoPasswords } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'

let stack: TestStack
let mosquittoPubBin = 'mosquitto_pub'
beforeAll(async () => {
  mosquittoPubBin = ensureDebianPackage('mosquitto-clients', 'mosquitto_pub')
  stack = await startStack({ ingest: { maxAgeDays: 35 } }) // the shipped default window
})
afterAll(async () => {
  await stack?.stop()
})

const topic = (device: string) => telemetryTopic('cikarang', 'plant-a', device)
const DAY = 86_400_000

/** Publishes with Debian's mosquitto_pub at QoS 1; exit status 0 means the PUBACK came. Async: the
 * broker runs in this process. */
function mosquittoPub(device: string, message: string): Promise<number | null> {
  const port = new URL(stack.url).port
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-V',
    'mqttv311',
    '-q',
    '1',
    '-i',
    `pub-${process.pid}-${device}`,
  ]
  args.push('-u', 'gw-plant-a', '-P', demoPasswords()['gw-plant-a']!, '-t', topic(device), '-m', message)
  const child = spawn(mosquittoPubBin, args, { stdio: 'ignore', timeout: 15_000 })
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

async function deadLetters(where: string): Promise<{ reason: string; count: number; detail: string }[]> {
  const rows = (
    await stack.influx.query(`SELECT "reason", "count", "detail" FROM "deadletter" WHERE ${where}`)
  )[0]?.rows
  return (rows ?? []).map((r) => ({
    reason: String(r.reason),
    count: Number(r.count),
    detail: String(r.detail),
  }))
}

describe('poison messages', () => {
  it('acknowledges a reading no Date can print, stores its valid neighbour and dead-letters the rest', async () => {
    const now = Date.now()
    const poison = `{"v":1,"seq":1,"readings":[{"ts":${now},"m":{"p_kw":1}},{"ts":9000000000000000,"m":{"p_kw":1}}]}`
    const gw = await stack.connect('gw-plant-a')
    await gw.publishAsync(topic('grid-main'), poison, { qos: 1 }) // resolves on PUBACK only
    expect(gw.connected).toBe(true)
    // The gateway's queue goes on: the next message is stored too.
    await gw.publishAsync(
      topic('grid-main'),
      JSON.stringify({ v: 1, seq: 3, readings: [{ ts: now + 1, m: { p_kw: 2 } }] }),
      {
        qos: 1,
      },
    )
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'grid-main'`)).toBe(2)
    const letters = await deadLetters(`"device" = 'grid-main'`)
    expect(letters.map((l) => l.reason)).toEqual(['future_timestamp'])
    expect(letters[0]!.detail).toContain('readings[1]')
  })

  it('acknowledges the same poison sent by mosquitto_pub', async () => {
    const now = Date.now()
    const status = await mosquittoPub(
      'pv-roof',
      `{"v":1,"seq":1,"readings":[{"ts":${now},"m":{"p_kw":7}},{"ts":9000000000000000,"m":{"p_kw":1}}]}`,
    )
    expect(status).toBe(0)
    expect(
      await eventually(() => countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'pv-roof'`), 1),
    ).toBe(1)
    expect((await deadLetters(`"device" = 'pv-roof'`)).map((l) => l.reason)).toEqual(['future_timestamp'])
  })

  it('refuses readings dated across 300 weeks: no InfluxDB shard is created for them', async () => {
    const now = Date.now()
    const shardsBefore = await shardGroups()
    const readings = Array.from({ length: 300 }, (_, w) => ({ ts: now - (w + 6) * 7 * DAY, m: { p_kw: w } }))
    readings.push({ ts: now, m: { p_kw: -1 } }) // one valid neighbour
    const gw = await stack.connect('gw-plant-a')
    await gw.publishAsync(topic('genset-1'), JSON.stringify({ v: 1, seq: 1, readings }), { qos: 1 })
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'genset-1'`)).toBe(1)
    const letters = await deadLetters(`"device" = 'genset-1'`)
    expect(letters.reduce((n, l) => n + l.count, 0)).toBe(300) // every refused reading counted
    expect(letters.length).toBeLessThanOrEqual(21) // but capped records, not 300
    expect(new Set(letters.map((l) => l.reason))).toEqual(
      new Set(['stale_timestamp', 'too_many_dead_letters']),
    )
    const shardsAfter = await shardGroups()
    console.log(
      `shard groups of the test database: ${shardsBefore} before, ${shardsAfter} after 300 weekly readings`,
    )
    expect(shardsAfter).toBeLessThanOrEqual(Math.max(shardsBefore, 1) + 1) // at most a week boundary
  })

  it('dead-letters __proto__ and constructor metric names from a raw JSON payload', async () => {
    const now = Date.now()
    const status = await mosquittoPub(
      'grid-export',
      `{"v":1,"seq":1,"readings":[{"ts":${now},"m":{"__proto__":1,"constructor":2,"p_kw":3}}]}`,
    )
    expect(status).toBe(0)
    expect(
      await eventually(() => countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'grid-export'`), 1),
    ).toBe(1)
    const letters = await deadLetters(`"device" = 'grid-export'`)
    expect(letters).toMatchObject([{ reason: 'unknown_metric', count: 2 }])
    expect(letters[0]!.detail).toContain('__proto__')
  })
})

async function shardGroups(): Promise<number> {
  const series = await stack.influx.query('SHOW SHARDS')
  const db = stack.influx.database
  return series.filter((s) => s.name === db).reduce((n, s) => n + s.rows.length, 0)
}
