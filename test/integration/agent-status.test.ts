/**
 * REL-14: an agent's retained status and its MQTT last will reach the device list. Killed without
 * DISCONNECT, the agent's connection publishes its will `{"state":"offline"}`, and every device of
 * its plant then shows offline.
 */
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentStatusStore } from '../../services/api/agent-status-store.js'
import { statusTopic } from '../../shared/topics.js'
import { demoPasswords } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'

const store = new AgentStatusStore()
let stack: TestStack
beforeAll(async () => {
  stack = await startStack({ onStatus: (topic, payload) => store.update(topic, payload) })
})
afterAll(async () => {
  await stack?.stop()
})

describe('agent liveness', () => {
  it('shows devices online from the agent status, and offline once its last will fires', async () => {
    const agentTopic = statusTopic('cikarang', 'plant-c', 'agent')
    const agent = mqtt.connect(stack.url, {
      username: 'gw-plant-c',
      password: demoPasswords()['gw-plant-c'],
      keepalive: 1,
      reconnectPeriod: 0,
      will: { topic: agentTopic, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    })
    await new Promise<void>((resolve) => agent.once('connect', () => resolve()))
    await agent.publishAsync(
      agentTopic,
      JSON.stringify({ state: 'online', version: '0.1.0', buffer_depth: 7 }),
      { qos: 1, retain: true },
    )
    await agent.publishAsync(
      statusTopic('cikarang', 'plant-c', 'pv-roof'),
      JSON.stringify({ state: 'online' }),
      { qos: 1, retain: true },
    )
    expect(store.get('plant-c', 'pv-roof')).toMatchObject({ state: 'online', buffer_depth: 7 })

    agent.stream.destroy() // the process dies: no DISCONNECT, so the broker publishes the will [MQTT-3.1.2-8]
    const deadline = Date.now() + 5000
    while (store.get('plant-c', 'pv-roof')?.state !== 'offline' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50))
    expect(store.get('plant-c', 'pv-roof')?.state).toBe('offline')
    agent.end(true)
  })
})
