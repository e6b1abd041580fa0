/**
 * The login limiter cannot be turned against a gateway (docs/SECURITY.md "Login limiter"). Every
 * client here comes from 127.0.0.1, as gateways behind one NAT address do: plant A (or an outsider
 * on the plant network) guesses passwords and sprays usernames while plant B publishes and logs in
 * again. A short window (3 s) keeps the test brief; the defaults are 10 per username, 100 per
 * address, 60 s.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually } from '../helpers/influx.js'
import { demoPasswords } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'
import {
  CLUSTER,
  loginOutcome,
  mosquitto,
  mosquittoLogin,
  PlantBGateway,
  refusals,
} from './broker-fixture.js'

const WINDOW_MS = 3000
let stack: TestStack
let plantB: PlantBGateway

const pw = demoPasswords()
const login = (username: string, password: string, clientId = `${username}-login-${Math.random()}`) =>
  loginOutcome(stack.url, { username, password, clientId })

beforeAll(async () => {
  stack = await startStack({
    limits: {
      loginLimiter: {
        maxFailuresPerUser: 5,
        maxFailuresPerAddress: 30,
        windowMs: WINDOW_MS,
        knownForMs: 3600_000,
      },
    },
  })
  plantB = new PlantBGateway(stack.url) // logs in from 127.0.0.1 first: a known gateway there
  await plantB.start()
})
afterAll(async () => {
  await plantB?.client.endAsync(true).catch(() => undefined)
  await stack?.stop()
})

describe('login limiter behind a shared address', () => {
  it("answers a wrong password 'bad user name or password' and a blocked login 'server unavailable'", async () => {
    expect(await login('gw-plant-a', 'guess-0')).toMatch(/Bad username or password/i)
    for (let i = 1; i < 5; i++) await login('gw-plant-a', `guess-${i}`)
    // Blocked now: even the right password is not checked, and the client is told to come back.
    expect(await login('gw-plant-a', pw['gw-plant-a']!)).toMatch(/Server unavailable/i)
    expect(await refusals(stack, 'login_blocked')).toBeGreaterThanOrEqual(1)
  })

  it('does not extend a block for refused retries: a gateway retrying every 100 ms gets back in', async () => {
    for (let i = 0; i < 5; i++) expect(await login('gw-plant-c', `guess-${i}`)).toMatch(/Bad username/i)
    const failuresBefore = await refusals(stack, 'bad_credentials')
    // The attacker keeps guessing and plant C's gateway keeps retrying with the right password.
    let outcome = ''
    let blockedRetries = 0
    // A guess that lands after the block ended (between the gateway's last blocked retry and its
    // next one: a matter of scheduling on a loaded machine) is checked and counted, as it should
    // be; one such guess cannot block again (5 are needed), so the gateway's next retry gets in.
    let checkedGuesses = 0
    for (let i = 0; i < 200; i++) {
      outcome = await login('gw-plant-c', pw['gw-plant-c']!)
      if (outcome === 'accepted') break
      if (/Server unavailable/i.test(outcome)) blockedRetries++
      const guess = await login('gw-plant-c', `guess-more-${i}`)
      if (/Bad username or password/i.test(guess)) checkedGuesses++
      else expect(guess).toMatch(/Server unavailable/i)
      await sleep(100)
    }
    expect(outcome).toBe('accepted')
    expect(blockedRetries).toBeGreaterThan(3)
    expect(checkedGuesses).toBeLessThanOrEqual(1)
    // While blocked nothing was checked, so nothing was counted as a failure: the block ended when
    // the 5 failures left the window, not 3 s after the last retry.
    expect(await refusals(stack, 'bad_credentials')).toBe(failuresBefore + checkedGuesses)
  })

  it("lets plant B log in while someone at its address guesses A's password and sprays usernames", async () => {
    for (let i = 0; i < 40; i++) await login(`nobody-${i}`, 'x') // cheap: unknown users cost no scrypt
    // The address is now blocked for usernames that never logged in from it ...
    expect(await login('gw-plant-d', pw['gw-plant-d']!)).toMatch(/Server unavailable/i)
    // ... but not for plant B, known there, whether mqtt.js or mosquitto_pub.
    expect(await login('gw-plant-b', pw['gw-plant-b']!)).toBe('accepted')
    const pub = await mosquitto('mosquitto_pub', [
      ...mosquittoLogin(stack, 'gw-plant-b'),
      '-i',
      'gw-plant-b-mosquitto',
      '-q',
      '1',
      '-t',
      telemetryTopic(CLUSTER, 'plant-b', 'pv-roof'),
      '-m',
      JSON.stringify({ v: 1, seq: 1, readings: [{ ts: Date.UTC(2026, 2, 1), m: { p_kw: 5 } }] }),
    ])
    expect(pub.stderr).toBe('')
    expect(pub.code).toBe(0)
    expect(plantB.client.connected).toBe(true)
  })

  it('kept plant B publishing: every PUBACK, never disconnected, every reading stored', async () => {
    const report = await plantB.stop('broker-login')
    expect(report.acked).toBe(report.sent)
    expect(report.closes).toBe(0)
    const stored = await eventually(
      () => countPoints(stack.influx, 'readings', 'p_kw', `"plant" = 'plant-b' AND "device" = 'grid-main'`),
      report.acked,
    )
    expect(stored).toBe(report.acked)
  })
})
