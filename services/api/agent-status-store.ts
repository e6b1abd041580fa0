/**
 * The last retained status of each edge agent and its devices (`…/{plant}/{device}/status`), for
 * the device list. An agent publishes its own status (with the MQTT last will, so a dead agent
 * turns `offline`, REL-14) on `…/{plant}/agent/status` and one per device; a device counts as offline
 * while its plant's agent is. Fed by the broker in the same process, or by an MQTT observer.
 */
// First: the MQTT packages must load after it (see there).
import '../../shared/quiet-debug.js'
import mqtt, { type MqttClient } from 'mqtt'
import type { Logger } from '../../shared/logger.js'
import { AGENT_STATUS_DEVICE_ID as AGENT_DEVICE_ID } from '../../shared/site-model.js'
import { type AgentStatus, statusSchema } from '../../shared/telemetry-schema.js'
import { parseDeviceTopic, TOPIC_ROOT } from '../../shared/topics.js'
import type { AgentStatusSource } from './routes/context.js'

export class AgentStatusStore implements AgentStatusSource {
  private readonly statuses = new Map<string, AgentStatus>()

  /** Records a status message; returns false when the topic or payload is not a status. */
  update(topic: string, payload: Buffer): boolean {
    const t = parseDeviceTopic(topic)
    if (t?.kind !== 'status') return false
    if (payload.length === 0) {
      this.statuses.delete(`${t.plant}/${t.device}`) // retained message cleared
      return true
    }
    let json: unknown
    try {
      json = JSON.parse(payload.toString('utf8'))
    } catch {
      return false
    }
    const status = statusSchema.safeParse(json)
    if (!status.success) return false
    this.statuses.set(`${t.plant}/${t.device}`, status.data)
    return true
  }

  get(plant: string, device: string): AgentStatus | undefined {
    const agent = this.statuses.get(`${plant}/${AGENT_DEVICE_ID}`)
    const own = this.statuses.get(`${plant}/${device}`)
    if (!agent && !own) return undefined
    const state = agent?.state === 'offline' ? 'offline' : (own?.state ?? agent?.state ?? 'offline')
    // Buffer, drops and clock are the agent's; unreadable values are the device's own (the agent's
    // figure is the sum over its devices, so it never stands in for one device).
    const { unreadable: _sum, ...agentFacts } = agent ?? {}
    return {
      ...agentFacts,
      ...own,
      state,
      ...(agent?.buffer_depth !== undefined ? { buffer_depth: agent.buffer_depth } : {}),
      ...(agent?.dropped !== undefined ? { dropped: agent.dropped } : {}),
      ...(agent?.clock_offset_ms !== undefined ? { clock_offset_ms: agent.clock_offset_ms } : {}),
    }
  }
}

/** Subscribes to every status topic of the cluster as an observer identity (retained ones arrive at once). */
export function watchStatusTopics(
  store: AgentStatusStore,
  options: { url: string; cluster: string; username?: string | undefined; password?: string | undefined },
  log: Logger,
): MqttClient {
  const client = mqtt.connect(options.url, {
    username: options.username,
    password: options.password,
    reconnectPeriod: 2000,
  })
  client.on('connect', () => {
    client.subscribe(`${TOPIC_ROOT}/${options.cluster}/+/+/status`, { qos: 1 }, (err) => {
      if (err) log.warn({ err: err.message }, 'cannot subscribe to agent status topics')
    })
  })
  client.on('message', (topic, payload) => store.update(topic, payload))
  client.on('error', (err) => log.warn({ err: err.message }, 'agent status watcher: MQTT error'))
  return client
}
