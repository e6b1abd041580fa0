/**
 * Identity binds client ids (docs/SECURITY.md "Client ids belong to one identity"): plant A's
 * gateway, with its own valid credentials, tries to take over plant B's live connection, to resume
 * sessions stored for other identities, to leave a last will on B's status, and to publish with a
 * wildcard, with mqtt.js, Debian's mosquitto clients and raw sockets. Plant B publishes throughout.
 */
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { statusTopic, telemetryTopic } from '../../shared/topics.js'
import { eventually } from '../helpers/influx.js'
import { demoPasswords } from '../helpers/site.js'
import { connectClient, payload, startStack, type TestStack } from '../helpers/stack.js'
import {
  attackPayload,
  B_AGENT_ID,
  B_STATUS,
  CLUSTER,
  connectPacket,
  expectPlantBUntouched,
  loginOutcome,
  mosquitto,
  mosquittoLogin,
  PlantBGateway,
  publishPacket,
  rawSession,
  refusals,
  type Seen,
  watchEverything,
} from './broker-fixture.js'

let stack: TestStack
let plantB: PlantBGateway
let watched: { seen: Seen[]; client: MqttClient }

const asA = { username: 'gw-plant-a', password: demoPasswords()['gw-plant-a'] }

beforeAll(async () => {
  stack = await startStack()
  watched = await watchEverything(stack)
  plantB = new PlantBGateway(stack.url)
  await plantB.start()
})
afterAll(async () => {
  await plantB?.client.endAsync(true).catch(() => undefined)
  await stack?.stop()
})

describe('client ids belong to one identity', () => {
  it("refuses plant A's gateway using plant B's agent client id; B stays connected, no will fires", async () => {
    const before = await refusals(stack, 'client_id_reserved')
    // A reconnect duel, as a hostile gateway would run it: every attempt is refused at CONNACK.
    for (let i = 0; i < 10; i++)
      expect(await loginOutcome(stack.url, { ...asA, clientId: B_AGENT_ID })).toMatch(/Not authorized/i)
    const pub = await mosquitto('mosquitto_pub', [
      ...mosquittoLogin(stack, 'gw-plant-a'),
      '-i',
      B_AGENT_ID,
      '-q',
      '1',
      '-t',
      telemetryTopic(CLUSTER, 'plant-a', 'grid-main'),
      '-m',
      attackPayload(),
    ])
    expect(pub.code).not.toBe(0)
    expect(pub.stderr).toMatch(/not authori[sz]ed/i)
    expect(await refusals(stack, 'client_id_reserved')).toBe(before + 11)
    expect(plantB.client.connected).toBe(true)
  })

  it('refuses another identity taking over a live connection whose client id is not in any namespace', async () => {
    const dashboard = await stack.connect('observer', { clientId: 'dashboard-live' })
    expect(await loginOutcome(stack.url, { ...asA, clientId: 'dashboard-live' })).toMatch(/Not authorized/i)
    expect(await refusals(stack, 'client_id_in_use')).toBeGreaterThanOrEqual(1)
    expect(dashboard.connected).toBe(true)
    // The same identity may still take its own connection over [MQTT-3.1.4-2].
    const again = await stack.connect('observer', { clientId: 'dashboard-live' })
    expect(again.connected).toBe(true)
  })

  it("gives none of a stored session's queued messages to another identity (mqtt.js and mosquitto_sub)", async () => {
    // An observer dashboard with a persistent session reads plants B and C, then goes away.
    const opts = { clientId: 'dashboard-1', clean: false }
    const dash = await stack.connect('observer', opts)
    await dash.subscribeAsync([telemetryFilterOf('plant-b'), telemetryFilterOf('plant-c')], { qos: 1 })
    await dash.endAsync()
    const gwC = await stack.connect('gw-plant-c')
    for (let seq = 1; seq <= 3; seq++)
      await gwC.publishAsync(
        telemetryTopic(CLUSTER, 'plant-c', 'grid-main'),
        payload(seq, [{ ts: Date.UTC(2026, 1, 1) + seq, m: { p_kw: seq } }]),
        { qos: 1 },
      )
    // Plant A's gateway tries to resume that session: mqtt.js, then mosquitto_sub -c (clean=false).
    expect(await loginOutcome(stack.url, { ...asA, ...opts })).toMatch(/Not authorized/i)
    const sub = await mosquitto(
      'mosquitto_sub',
      [
        ...mosquittoLogin(stack, 'gw-plant-a'),
        '-c',
        '-i',
        'dashboard-1',
        '-q',
        '1',
        '-t',
        'kawasan/v1/cikarang/plant-a/#',
        '-v',
        '-W',
        '3',
      ],
      8000,
    )
    expect(sub.stdout).toBe('')
    expect(sub.stderr).toMatch(/not authori[sz]ed/i)
    // The session is intact: its owner resumes it and gets the queued readings.
    const back = await connectClient(stack.url, {
      username: 'observer',
      password: demoPasswords().observer,
      ...opts,
      reconnectPeriod: 0,
    })
    const got: string[] = []
    back.on('message', (t) => got.push(t))
    await eventually(async () => got.filter((t) => t.includes('/plant-c/')).length, 3, 10_000)
    expect(got.filter((t) => t.includes('/plant-c/'))).toHaveLength(3)
    await back.endAsync()
    await gwC.endAsync()
  })

  it("refuses a last will on plant B's status, or on a device not in the site model", async () => {
    const before = await refusals(stack, 'will_refused')
    const will = (topic: string) => ({
      topic,
      payload: Buffer.from('{"state":"offline"}'),
      qos: 1 as const,
      retain: true,
    })
    expect(await loginOutcome(stack.url, { ...asA, will: will(B_STATUS) })).toMatch(/Not authorized/i)
    expect(
      await loginOutcome(stack.url, { ...asA, will: will(statusTopic(CLUSTER, 'plant-a', 'made-up-1')) }),
    ).toMatch(/Not authorized/i)
    expect(await refusals(stack, 'will_refused')).toBe(before + 2)
  })

  it('counts a PUBLISH to a wildcard topic (sent on a raw socket; the clients refuse to send it)', async () => {
    const before = await refusals(stack, 'wildcard_publish')
    const { socket, reply, closed } = await rawSession(
      stack,
      connectPacket('raw-wildcard', 'gw-plant-a', demoPasswords()['gw-plant-a']!),
    )
    expect((await reply)?.subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00])) // CONNACK accepted
    socket.write(publishPacket('kawasan/v1/cikarang/+/grid-main/telemetry', Buffer.from(attackPayload())))
    await closed
    expect(await refusals(stack, 'wildcard_publish')).toBe(before + 1)
  })

  it('kept plant B publishing: every PUBACK, never disconnected, and no attacker data anywhere', async () => {
    await expectPlantBUntouched(stack, plantB, 'broker-identity', watched)
    expect(
      watched.seen.filter((m) => m.topic === B_STATUS).map((m) => JSON.parse(m.payload).state),
    ).not.toContain('offline')
  })
})

function telemetryFilterOf(plant: string): string {
  return `kawasan/v1/${CLUSTER}/${plant}/+/telemetry`
}
