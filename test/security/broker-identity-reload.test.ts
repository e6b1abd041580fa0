/**
 * Identities taken without a restart (docs/SECURITY.md "Adding and revoking gateways"): the broker
 * takes a re-read site model's identities; a revoked gateway's live connection is closed and its
 * password refused from then on, a gateway whose password changed must log in again, a new gateway
 * logs in at once, and every other gateway stays connected throughout.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../../shared/password-hash.js'
import { SiteIndex } from '../../shared/site-model.js'
import { telemetryTopic } from '../../shared/topics.js'
import { demoPasswords, exampleSite } from '../helpers/site.js'
import { connectClient, payload, startStack, type TestStack } from '../helpers/stack.js'

let stack: TestStack
const passwords = demoPasswords()

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

/** Resolves with the CONNACK outcome: true when accepted, else the refusal's return code. */
function login(url: string, username: string, password: string): Promise<true | number> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000 })
    c.once('connect', () => {
      c.end(true)
      resolve(true)
    })
    c.once('error', (err) => {
      c.end(true)
      resolve((err as { code?: number }).code ?? -1)
    })
  })
}

function watchCloses(client: MqttClient): () => number {
  let closes = 0
  client.on('close', () => closes++)
  return () => closes
}

describe('reloading identities', () => {
  it('revokes one gateway, re-keys another and adds a third, without disturbing the rest', async () => {
    const connect = (username: string) =>
      connectClient(stack.url, { username, password: passwords[username], reconnectPeriod: 0 })
    const a = await connect('gw-plant-a')
    const b = await connect('gw-plant-b')
    const c = await connect('gw-plant-c')
    const closesA = watchCloses(a)
    const closesB = watchCloses(b)
    const closesC = watchCloses(c)

    const model = exampleSite().model
    const newPassword = 'a-new-password-for-plant-c-0123456789'
    const identities = await Promise.all(
      model.identities
        .filter((i) => i.username !== 'gw-plant-b') // revoked
        .map(async (i) =>
          i.username === 'gw-plant-c' ? { ...i, password_hash: await hashPassword(newPassword) } : i,
        ),
    )
    identities.push({
      username: 'gw-plant-a-2',
      role: 'gateway',
      plant: 'plant-a',
      password_hash: await hashPassword('second-gateway-of-plant-a-0123456789'),
    })
    const reload = stack.broker.reloadIdentities(new SiteIndex({ ...model, identities }))
    expect(reload).toEqual({
      added: ['gw-plant-a-2'],
      removed: ['gw-plant-b'],
      changed: ['gw-plant-c'],
      disconnected: 2,
    })

    await expect.poll(() => closesB()).toBe(1)
    await expect.poll(() => closesC()).toBe(1)
    // Revoked: the password that worked a moment ago is refused (4: bad user name or password).
    expect(await login(stack.url, 'gw-plant-b', passwords['gw-plant-b']!)).toBe(4)
    // Re-keyed: the old password is refused, the new one accepted.
    expect(await login(stack.url, 'gw-plant-c', passwords['gw-plant-c']!)).toBe(4)
    expect(await login(stack.url, 'gw-plant-c', newPassword)).toBe(true)
    // Added: in at once, with the agent's client id namespace of its plant.
    expect(await login(stack.url, 'gw-plant-a-2', 'second-gateway-of-plant-a-0123456789')).toBe(true)
    // Untouched: plant A's gateway never dropped and still publishes.
    await a.publishAsync(
      telemetryTopic('cikarang', 'plant-a', 'grid-main'),
      payload(1, [{ ts: Date.UTC(2026, 5, 1), m: { p_kw: 1 } }]),
      { qos: 1 },
    )
    expect(closesA()).toBe(0)
    expect(a.connected).toBe(true)
    await Promise.all([a, b, c].map((x) => x.endAsync(true)))
  }, 60_000)
})
