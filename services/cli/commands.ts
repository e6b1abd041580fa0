/** The CLI's commands: each composes services from config and runs until stopped. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import YAML from 'yaml'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { OpsRegistry } from '../../shared/ops-server.js'
import { hashPassword } from '../../shared/password-hash.js'
import { loadSiteIndex, loadSiteModel } from '../../shared/site-model-file.js'
import { AgentStatusStore, watchStatusTopics } from '../api/agent-status-store.js'
import { apiKeyCommand, startApi } from '../api/main.js'
import { KawasanBroker } from '../broker/app.js'
import { createIngestPipeline, createLineWriter } from '../ingest/app.js'
import { IngestSubscriber } from '../ingest/subscriber.js'
import { RollupService } from '../rollup/app.js'
import { backfillCommand, ROLLUP_HELP } from '../rollup/command.js'
import { SimulatedFleet } from '../simulator/fleet.js'
import { type KawasanConfig, loadKawasanConfig } from './config.js'
import { resolveInflux, type Stoppable, startOpsServer, stopOnSignals } from './runtime.js'

export interface CommandContext {
  configFile: string | undefined
  args: string[]
  argv: string[]
}

export interface Command {
  summary: string
  help?: string
  run(ctx: CommandContext): Promise<number>
}

function readSecrets(file: string): Record<string, string> {
  return YAML.parse(readFileSync(file, 'utf8')) as Record<string, string>
}

/**
 * Runs the services `parts` names in this process until SIGINT/SIGTERM. Shared by `start`
 * (everything) and the single-service commands.
 */
async function runServices(
  config: KawasanConfig,
  parts: { broker?: boolean; ingest?: boolean; simulator?: boolean; api?: boolean; rollup?: boolean },
  service: string,
): Promise<number> {
  const log = createLogger({ level: config.log.level, name: `kawasan-${service}` })
  const site = loadSiteIndex(config.site)
  const ops = new OpsRegistry()
  const stoppers: Stoppable[] = []
  const done = stopOnSignals(stoppers, log)
  try {
    let pipeline: ReturnType<typeof createIngestPipeline> | undefined
    let influxTarget: Awaited<ReturnType<typeof resolveInflux>> | undefined
    if (parts.ingest) {
      const target = await resolveInflux(config, log, stoppers)
      influxTarget = target
      const writer = createLineWriter(target)
      pipeline = createIngestPipeline({ config: config.ingest, site, writer, log, metrics: ops.metrics })
      ops.addReadiness('influxdb', () => pipeline!.batcher.isHealthy)
    }
    // Agent and device online/offline for the API: fed by the broker when it runs here.
    const agentStatus = parts.api ? new AgentStatusStore() : undefined
    let brokerUrl = config.simulator.url
    if (parts.broker) {
      const inBroker = pipeline && config.ingest.mode === 'in-broker' ? pipeline : undefined
      const broker = new KawasanBroker({
        site,
        log: log.child({ module: 'broker' }),
        metrics: ops.metrics,
        sink: inBroker,
        onStatus: agentStatus ? (topic, payload) => agentStatus.update(topic, payload) : undefined,
        redis: config.broker.redis,
        drainTimeoutMs: config.broker.drainTimeoutMs,
        limits: config.broker,
      })
      const { port } = await broker.start({
        host: config.broker.host,
        port: config.broker.port,
        tls: config.broker.tls,
      })
      stoppers.push({ name: 'broker', stop: () => broker.stop() })
      ops.addReadiness('broker', () => broker.listening)
      brokerUrl ??= `mqtt://${config.broker.host === '0.0.0.0' ? '127.0.0.1' : config.broker.host}:${port}`
    }
    if (pipeline) stoppers.push({ name: 'ingest', stop: () => pipeline!.stop() })
    if (pipeline && config.ingest.mode === 'subscriber') {
      const subscriber = new IngestSubscriber(
        site,
        pipeline,
        {
          url: config.ingest.url!,
          username: config.ingest.username,
          password: config.ingest.password,
          clientIdPrefix: config.ingest.clientIdPrefix,
          connections: config.ingest.connections,
          shareGroup: config.ingest.shareGroup,
          leaveGroupOnStop: config.ingest.leaveGroupOnStop,
        },
        log.child({ module: 'ingest-subscriber' }),
      )
      await subscriber.start()
      stoppers.push({ name: 'ingest-subscriber', stop: () => subscriber.stop() })
      ops.addReadiness('mqtt', () => subscriber.connected)
    }
    if (parts.simulator && config.simulator.enabled) {
      if (!brokerUrl)
        throw new Error(
          'the simulator needs simulator.url (SIMULATOR_MQTT_URL) when no broker runs in this process',
        )
      const fleet = new SimulatedFleet({
        site: site.model,
        url: brokerUrl,
        passwords: readSecrets(config.simulator.secretsFile),
        intervalMs: config.simulator.intervalMs,
        stateFile: join(config.dataDir, 'simulator-state.json'),
        log: log.child({ module: 'simulator' }),
      })
      await fleet.start()
      stoppers.push({ name: 'simulator', stop: () => fleet.stop() })
    }
    let rollupEvents: RollupService['events'] | undefined
    if (parts.rollup && config.rollup.enabled) {
      influxTarget ??= await resolveInflux(config, log, stoppers)
      const rollup = new RollupService({
        config: config.rollup,
        site: site.model,
        influx: new InfluxClient(influxTarget),
        log: log.child({ module: 'rollup' }),
        metrics: ops.metrics,
      })
      await rollup.start()
      rollupEvents = rollup.events
      stoppers.push({ name: 'rollup', stop: () => rollup.stop() })
      ops.addReadiness('rollup', () => rollup.healthy)
    }
    if (parts.api && config.api.enabled) {
      influxTarget ??= await resolveInflux(config, log, stoppers)
      if (agentStatus && !parts.broker && config.api.statusMqtt) {
        const watcher = watchStatusTopics(
          agentStatus,
          { ...config.api.statusMqtt, cluster: site.clusterId },
          log.child({ module: 'api' }),
        )
        stoppers.push({ name: 'status-watcher', stop: async () => void (await watcher.endAsync()) })
      }
      const api = await startApi({ config, site, influx: influxTarget, log, ops, agentStatus })
      // In one process the rollup's live event pushes SSE at once, without waiting for the poll.
      rollupEvents?.on('live', () => api.api.feed.notify())
      stoppers.push({ name: 'api', stop: () => api.stop() })
    }
    await startOpsServer(ops, config, service, log, stoppers)
  } catch (err) {
    log.error({ err: (err as Error).message }, 'start failed; stopping what was started')
    process.kill(process.pid, 'SIGTERM')
    await done
    throw err
  }
  await done
  return 0
}

export const COMMANDS: Record<string, Command> = {
  start: {
    summary:
      'Run everything on embedded defaults: broker + ingest + rollup + API/dashboard + simulated fleet (+ local InfluxDB)',
    help: 'Starts a private InfluxDB (Debian package influxdb, installed if missing) unless INFLUX_URL is set,\nthe MQTT broker on 127.0.0.1:1883 with ingest inside it, the rollup scheduler, the API and dashboard\non http://127.0.0.1:8080 (a demo read key is printed), and the simulated Cikarang fleet.\nOps endpoints on 127.0.0.1:9464. Ctrl-C stops everything.',
    run: async (ctx) =>
      runServices(
        // The embedded demo prints the dashboard URL with a fresh read key (API_DEMO_READ_KEY=false: not).
        loadKawasanConfig(ctx.configFile, { API_DEMO_READ_KEY: 'true', ...process.env }),
        { broker: true, ingest: true, simulator: true, api: true, rollup: true },
        'all',
      ),
  },
  broker: {
    summary: 'Run the MQTT broker (with ingest inside it when ingest.mode is in-broker)',
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      return runServices(config, { broker: true, ingest: config.ingest.mode === 'in-broker' }, 'broker')
    },
  },
  ingest: {
    summary: 'Run ingest as a subscriber of an external broker (INGEST_MQTT_URL)',
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile, { ...process.env, INGEST_MODE: 'subscriber' })
      return runServices(config, { ingest: true }, 'ingest')
    },
  },
  simulate: {
    summary: 'Run the simulated plant fleet against a broker (SIMULATOR_MQTT_URL)',
    run: async (ctx) => runServices(loadKawasanConfig(ctx.configFile), { simulator: true }, 'simulator'),
  },
  api: {
    summary: 'Run the HTTP API and dashboard (API_PORT, default 8080) against INFLUX_URL',
    run: async (ctx) => runServices(loadKawasanConfig(ctx.configFile), { api: true }, 'api'),
  },
  rollup: {
    summary: 'Rollups: `kawasan rollup run` (the scheduler) or `kawasan rollup backfill --from D --to D`',
    help: ROLLUP_HELP,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      if (ctx.args[0] === 'backfill') return backfillCommand(config, ctx.argv)
      if (ctx.args[0] === 'run') return runServices(config, { rollup: true }, 'rollup')
      process.stderr.write(`usage:\n${ROLLUP_HELP}\n`)
      return 1
    },
  },
  'api-key': {
    summary: 'Manage API keys: `kawasan api-key create --scope read|admin [--tenant X]`, list, revoke ID',
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      return apiKeyCommand(config, loadSiteIndex(config.site), ctx.args)
    },
  },
  'hash-password': {
    summary: 'Print the scrypt hash of a password for the site model (reads stdin if no argument)',
    run: async (ctx) => {
      const pw = ctx.args[0] ?? readFileSync(0, 'utf8').trim()
      if (!pw) {
        process.stderr.write('kawasan hash-password: give a password as argument or on stdin\n')
        return 1
      }
      process.stdout.write(`${await hashPassword(pw)}\n`)
      return 0
    },
  },
  site: {
    summary: 'Check a site model file: `kawasan site check FILE`',
    run: async (ctx) => {
      const file = ctx.args[1] ?? ctx.args[0]
      if (!file || (ctx.args[0] === 'check' && !ctx.args[1])) {
        process.stderr.write('usage: kawasan site check FILE\n')
        return 1
      }
      const model = loadSiteModel(file)
      const devices =
        model.plants.reduce((n, p) => n + p.devices.length, 0) + model.cluster.shared_devices.length
      process.stdout.write(
        `${file}: cluster ${model.cluster.id} (${model.cluster.timezone}), ${model.plants.length} plants, ${devices} devices, ${model.identities.length} identities: OK\n`,
      )
      return 0
    },
  },
}
