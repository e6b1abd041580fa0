/**
 * `kawasan-agent` command line: init, check, run, status. The process entry: reads config, wires
 * signals, sets the exit code. Everything else lives in app.ts and friends.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ID_PATTERN, ID_RULE } from '../../shared/topics.js'
import { Agent } from './app.js'
import { renderCheck, runCheck } from './check.js'
import { type AgentConfig, loadAgentConfig, statusFilePath } from './config.js'
import { renderConfigTemplate } from './config-template.js'
import { AgentError } from './errors.js'
import { HeapCollector } from './heap-collector.js'
import { createAgentLogger } from './logger.js'
import { withPersistedRemote } from './remote-config.js'
import {
  type AgentStatusFile,
  type Liveness,
  livenessOf,
  markStopped,
  readStatusFile,
} from './status-file.js'
import { AGENT_VERSION } from './version.js'

const HELP = `kawasan-agent ${AGENT_VERSION}: polls meters and inverters and forwards readings to Kawasan over MQTT

Usage: kawasan-agent <command> [options]

Commands:
  init     write a commented config for a plant
             --cluster <id> --plant <id> [--broker <url>] [--buffer-dir <dir>] [--out <file>] [--force]
  check    validate the config, read every device once, connect to the broker; prints a table
  run      poll, buffer and publish until SIGTERM/SIGINT
  status   show the running agent's buffer depth, last publish and per-device errors
             [--json]; exit 0 running, 1 not responding, 3 not running (stopped or gone)

Options:
  -c, --config <file>   config file (default: $KAWASAN_AGENT_CONFIG, else /etc/kawasan/agent.yaml,
                        else ./agent.yaml)
  -h, --help            this help
  -v, --version         print the version

Environment:
  KAWASAN_AGENT_PASSWORD   broker password (overrides broker.password in the file)
  KAWASAN_AGENT_CONFIG     config file path
`

function configPath(arg: string | undefined): string {
  if (arg) return arg
  if (process.env.KAWASAN_AGENT_CONFIG) return process.env.KAWASAN_AGENT_CONFIG
  if (existsSync('/etc/kawasan/agent.yaml')) return '/etc/kawasan/agent.yaml'
  return 'agent.yaml'
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      cluster: { type: 'string' },
      plant: { type: 'string' },
      broker: { type: 'string' },
      'buffer-dir': { type: 'string' },
      out: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  })
  const command = positionals[0]
  if (values.version) {
    process.stdout.write(`${AGENT_VERSION}\n`)
    return 0
  }
  if (values.help || !command || command === 'help') {
    process.stdout.write(HELP)
    return command || values.help ? 0 : 2
  }
  switch (command) {
    case 'init':
      return init(values)
    case 'check': {
      const cfg = loadAgentConfig(configPath(values.config))
      const result = await runCheck(cfg)
      process.stdout.write(`${renderCheck(result)}\n`)
      return result.devices.every((d) => d.reachable) && result.broker.ok && result.buffer.ok ? 0 : 1
    }
    case 'run': {
      const file = configPath(values.config)
      return run(file, loadAgentConfig(file))
    }
    case 'status':
      return status(loadAgentConfig(configPath(values.config)), values.json === true)
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}`)
      return 2
  }
}

function init(v: {
  cluster?: string | undefined
  plant?: string | undefined
  broker?: string | undefined
  'buffer-dir'?: string | undefined
  out?: string | undefined
  force?: boolean | undefined
}): number {
  for (const key of ['cluster', 'plant'] as const) {
    const id = v[key]
    if (!id || !ID_PATTERN.test(id)) {
      process.stderr.write(
        `--${key} is required and must be ${ID_RULE} (the id in the cluster's site model)\n`,
      )
      return 2
    }
  }
  const text = renderConfigTemplate({
    cluster: v.cluster as string,
    plant: v.plant as string,
    brokerUrl: v.broker ?? 'mqtts://broker.example.com:8883',
    bufferDir: v['buffer-dir'] ?? '/var/lib/kawasan-agent',
  })
  if (!v.out || v.out === '-') {
    process.stdout.write(text)
    return 0
  }
  if (existsSync(v.out) && !v.force) {
    process.stderr.write(`${v.out} exists; pass --force to overwrite it\n`)
    return 1
  }
  writeFileSync(v.out, text, { mode: 0o640 })
  process.stdout.write(`wrote ${v.out}; edit the devices, then run: kawasan-agent check --config ${v.out}\n`)
  return 0
}

/** Exit code after a remote config that needs a restart (EX_TEMPFAIL): the supervisor starts us again. */
const RESTART_EXIT = 75

async function run(file: string, local: AgentConfig): Promise<number> {
  // A remote config applied earlier (remote-config.ts) is kept next to the file and wins over it.
  const remote = withPersistedRemote(local, file, { baseDir: join(file, '..') })
  const cfg = remote.cfg
  const log = await createAgentLogger({ name: 'kawasan-agent', level: cfg.log_level })
  if (remote.problem) log.warn({ problem: remote.problem }, 'persisted remote config not used')
  let exitCode = 0
  const agent = new Agent(cfg, {
    log,
    configFile: file,
    configVersion: remote.version,
    onRestartNeeded: () => {
      exitCode = RESTART_EXIT
      shutdown('remote config')
    },
  })
  const heap = new HeapCollector({ stepMb: cfg.memory.heap_step_mb, log })
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping')
    Promise.all([heap.part.stop(), agent.stop()]).then(
      () => {
        try {
          markStopped(statusFilePath(cfg), Date.now())
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'cannot record the stop in the status file')
        }
        process.exit(exitCode)
      },
      (err: unknown) => {
        log.error({ err }, 'stop failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.on('uncaughtException', (err) => {
    // Samples already committed are safe on disk; restart clean (systemd Restart=always).
    log.fatal({ err }, 'uncaught exception')
    exitCode = 1
    shutdown('uncaughtException')
  })
  await agent.start()
  await heap.part.start(new AbortController().signal)
  return new Promise<number>(() => undefined) // runs until a signal
}

/** Exit codes of `status`, as systemd's and LSB's `status`: 3 = not running. */
const STATUS_EXIT = { running: 0, stale: 1, stopped: 3, gone: 3 } as const

function status(cfg: AgentConfig, json: boolean): number {
  const file = statusFilePath(cfg)
  let s: ReturnType<typeof readStatusFile>
  try {
    s = readStatusFile(file)
  } catch {
    process.stderr.write(
      `not running: no status at ${file} (has the agent run with this config? systemctl status kawasan-agent)\n`,
    )
    return 3
  }
  const now = Date.now()
  const live = livenessOf(s, now)
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...s, running: live.state === 'running', liveness: live }, null, 2)}\n`,
    )
    return STATUS_EXIT[live.state]
  }
  const when = (ts: number | undefined) =>
    ts ? `${new Date(ts).toISOString()} (${Math.round((now - ts) / 1000)} s ago)` : 'never'
  const lines = [
    `agent    ${s.version}, pid ${s.pid}, ${describeLiveness(live, when)}`,
    `clock    ${s.clock}${describeEstateClock(s.estate_clock)}`,
    `broker   ${s.broker.url} ${live.state !== 'running' ? 'was ' : ''}${s.broker.connected ? 'connected' : 'DISCONNECTED'}${s.broker.lastError ? ` (${s.broker.lastError})` : ''}`,
    `         last publish ${when(s.broker.lastPublishTs)}, ${s.broker.readingsPublished} readings in ${s.broker.published} messages since start`,
    `buffer   ${s.buffer.depth} samples waiting (${(s.buffer.bytes / 1024).toFixed(0)} KB, ${s.buffer.segments} segments), oldest ${when(s.buffer.oldestTs)}`,
    `         dropped (buffer full or disk error): ${s.buffer.dropped}`,
    '',
    'DEVICE            STATE     POLLS   ERRORS  LAST SAMPLE               LAST ERROR',
    ...Object.entries(s.devices).map(
      ([id, d]) =>
        `${id.padEnd(17)} ${d.state.padEnd(9)} ${String(d.polls).padEnd(7)} ${String(d.failures).padEnd(7)} ${(d.lastSampleTs ? new Date(d.lastSampleTs).toISOString() : '-').padEnd(25)} ${d.lastError ?? ''}`,
    ),
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  return STATUS_EXIT[live.state]
}

function describeLiveness(live: Liveness, when: (ts: number) => string): string {
  switch (live.state) {
    case 'running':
      return 'running'
    case 'stopped':
      return `STOPPED at ${when(live.at)}`
    case 'gone':
      return `NOT RUNNING (process gone without a clean stop; last status ${when(live.lastUpdate)})`
    case 'stale':
      return `NOT RESPONDING (status is ${Math.round(live.ageMs / 1000)} s old)`
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof AgentError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`${(err as Error).message}\n`)
      process.exit(2)
    }
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)

/** `; estate offset -600021 ms ±1 ms, correcting timestamps; 1 clock step seen` (clock-discipline.ts). */
function describeEstateClock(c: AgentStatusFile['estate_clock']): string {
  if (!c) return ''
  const parts: string[] = []
  parts.push(
    c.offsetMs === undefined
      ? 'estate offset not measured yet'
      : `estate offset ${c.offsetMs} ms ±${c.errorMs ?? '?'} ms${c.correcting ? ', correcting timestamps' : ''}`,
  )
  if (c.jumps > 0) parts.push(`${c.jumps} clock step${c.jumps === 1 ? '' : 's'} seen`)
  return `; ${parts.join('; ')}`
}
