/**
 * Every shell command in README.md and the component READMEs works as written (a
 * documented `kawasan api-key create --scope read` failed in every form and no test noticed).
 *
 * Each ```sh block is found in the READMEs and must be covered by a check below, keyed by its first
 * line: a new or changed command fails this test until someone says how it is proven. Commands run
 * from the repository root as a user types them, against a stack started with `npm start` in a
 * temporary data directory on free ports: the one rewrite is that the ports the READMEs name
 * (1883, 8080, 9464, 18086) become the stack's, in the commands and in the example files they name.
 * Long-running commands are started, must become ready on their ops port, and must stop on SIGINT.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'

/** Documented port → the port this test's stack uses. */
const ports = new Map<number, number>()

/** The command with the documented ports and example files replaced by this test's. */
function asRun(command: string): string {
  let c = command
  for (const [documented, actual] of ports) c = c.split(`127.0.0.1:${documented}`).join(`127.0.0.1:${actual}`)
  for (const [file, copy] of fileCopies) c = c.split(file).join(copy)
  return c
}

/** Example files that name a documented port, copied with the stack's ports. */
const fileCopies = new Map<string, string>()
function copyWithPorts(file: string): void {
  const copy = join(tempDir('kawasan-readme-file-'), file.split('/').pop()!)
  writeFileSync(copy, asRun(readFileSync(file, 'utf8')))
  fileCopies.set(file, copy)
}

/** The READMEs whose commands users follow. */
function readmes(): string[] {
  const files = ['README.md', 'edge-agent/README.md']
  for (const dir of ['services', 'infra'])
    for (const sub of readdirSync(dir))
      if (existsSync(join(dir, sub, 'README.md'))) files.push(join(dir, sub, 'README.md'))
  return files
}

/** A block's key in CHECKS: its first command with runs of spaces collapsed. */
const keyOf = (b: Block) => b.commands[0]!.replace(/\s+/g, ' ')

interface Block {
  file: string
  line: number
  /** Logical lines: continuations joined, blank and comment-only lines dropped. */
  commands: string[]
}

/** ```sh / ```bash blocks (output and config examples use other languages or none). */
export function shellBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|bash|shell)\s*$/.exec(lines[i]!)
    if (!open) continue
    const start = i + 1
    const body: string[] = []
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!)
    const commands: string[] = []
    let current = ''
    for (const raw of body) {
      const l = raw.trimEnd()
      if (!current && (l.trim() === '' || l.trim().startsWith('#'))) continue
      if (l.endsWith('\\')) current += `${l.slice(0, -1)} `
      else {
        commands.push((current + l).trim())
        current = ''
      }
    }
    if (commands.length) blocks.push({ file, line: start, commands })
  }
  return blocks
}

type Env = Record<string, string>

type Check =
  /** Run the block as one bash script (shared variables), expect exit 0 and optionally check output. */
  | { kind: 'script'; env?: () => Env | Promise<Env>; expect?: (out: string) => void; after?: () => void }
  /** Run each line alone; long-running ones must become ready and stop on SIGINT. */
  | { kind: 'lines'; env: (command: string) => Env | Promise<Env> }
  /** A line `.ci/run` runs itself (`npm ci`, `npm test`); or `npm start`, which this test's stack is. */
  | { kind: 'ci-and-stack' }
  /** A command that streams until stopped: it must print `expect` within 30 s, then stop on SIGINT. */
  | { kind: 'stream'; env: () => Env | Promise<Env>; expect: RegExp }
  /**
   * The edge agent's first steps from its README: `init` for the demo stack's plant (the README's
   * placeholder ids my-estate/my-plant become cikarang/plant-a, and the broker port the stack's),
   * `check`, then `run` until it publishes, then Ctrl-C.
   */
  | { kind: 'agent-first-steps' }
  /** A subset of `npm test` (running vitest inside vitest would start a second harness). */
  | { kind: 'part-of-npm-test' }
  /**
   * Host setup needing systemd, sudo to /etc or Grafana, which a CI machine lacks: the Kawasan
   * commands and `curl` in it run (install paths mapped to this checkout), the files it copies must
   * exist; the rest (useradd, systemctl) is what `why` says.
   */
  | { kind: 'host-setup'; why: string; map: () => [string, string][] }

/** Lines that run until stopped. */
const LONG_RUNNING = /(^|\s)(npx kawasan|kawasan|npm) (start|broker|ingest|simulate|api|rollup run|run)(\s|$)/

let stackDir = ''
let stack: ChildProcess | undefined
let stackOutput = ''
const scratch: string[] = []

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  scratch.push(d)
  return d
}

/** Where a stand-alone long-running command listens: free ports, its own ops port. */
async function ownPorts(): Promise<Env> {
  return {
    MQTT_PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    OPS_PORT: String(await freePort()),
  }
}

/** `KEY` and `API` as a scheduler sets them, for blocks that use them. */
async function schedulerEnv(): Promise<Env> {
  const { code, out } = await runScript('npx kawasan api-key create --scope read 2>/dev/null', {})
  if (code !== 0) throw new Error(`api-key create failed: ${out}`)
  return { KEY: out.trim(), API: `http://127.0.0.1:${ports.get(8080)}` }
}

const lineByLine: Check = {
  kind: 'lines',
  env: async (command) => {
    if (/kawasan start/.test(command))
      return { ...(await ownPorts()), KAWASAN_DATA_DIR: tempDir('kawasan-readme-start-') }
    if (/kawasan ingest/.test(command))
      return {
        ...(await ownPorts()),
        INGEST_MQTT_URL: `mqtt://127.0.0.1:${ports.get(1883)}`,
        INGEST_MQTT_USERNAME: 'ingest',
        INGEST_MQTT_PASSWORD: 'demo-ingest',
        INGEST_CLIENT_ID_PREFIX: 'kawasan-ingest-readme',
        KAWASAN_DATA_DIR: stackDir,
      }
    if (/kawasan simulate/.test(command))
      return {
        ...(await ownPorts()),
        SIMULATOR_MQTT_URL: `mqtt://127.0.0.1:${ports.get(1883)}`,
        KAWASAN_DATA_DIR: tempDir('kawasan-readme-sim-'),
      }
    return { ...(await ownPorts()), KAWASAN_DATA_DIR: stackDir }
  },
}

const systemdInstall = (): [string, string][] => [
  ['/opt/kawasan/', `${process.cwd()}/`],
  ['/etc/kawasan/site.yaml', 'infra/examples/cikarang/site.yaml'],
  ['/var/lib/kawasan/api', tempDir('kawasan-readme-systemd-')],
  ['/usr/bin/node', process.execPath],
]

const CHECKS: Record<string, Check> = {
  // README.md
  'npm ci': { kind: 'ci-and-stack' },
  "curl -s 'http://127.0.0.1:18086/query?db=kawasan' --data-urlencode 'q=SELECT count(\"p_kw\") FROM readings WHERE time > now() - 1m GROUP BY plant, device'":
    {
      kind: 'script',
      expect: (out) => {
        // Every simulated plant's devices report within the minute.
        for (const plant of ['plant-a', 'plant-b', 'plant-c', 'plant-d', 'shared'])
          expect(out).toContain(`"plant":"${plant}"`)
      },
    },
  "KEY=$(npx kawasan api-key create --scope read) # or --tenant <id> for one company's plants": {
    kind: 'script',
    expect: () => {
      const csv = readdirSync('.').find((f) => /^kawasan-\d{4}-\d{2}-\d{2}\.csv$/.test(f))
      expect(csv, 'the CSV the scheduler downloads').toBeDefined()
      expect(readFileSync(csv!, 'utf8')).toMatch(/^date,|^"?date"?,|plant/)
    },
    after: () => {
      for (const f of readdirSync('.')) if (/^kawasan-\d{4}-\d{2}-\d{2}\.csv$/.test(f)) rmSync(f)
    },
  },
  'KAWASAN_AGENT_PASSWORD=demo-gw-plant-a npx kawasan-agent check --config edge-agent/examples/agent.yaml': {
    kind: 'script',
    expect: (out) => {
      expect(out).toMatch(/broker\s+OK/)
      expect(out).toMatch(/sim-grid\s+simulator/)
    },
  },
  'npm test': { kind: 'ci-and-stack' },
  'npx kawasan --help': lineByLine,
  'npx kawasan certificates import infra/examples/cikarang/certificates.csv # all rows or none, reasons per line':
    lineByLine,
  // edge-agent/README.md
  'npx kawasan-agent init --cluster my-estate --plant my-plant --out agent.yaml # commented config': {
    kind: 'agent-first-steps',
  },
  // services/api/README.md
  'npx kawasan api-key create --scope read # estate-wide read key (dashboards, schedulers)': lineByLine,
  "KEY=$(npx kawasan api-key create --scope read) # or --tenant X for one tenant's plants": {
    kind: 'script',
    expect: () => expect(readdirSync('.').some((f) => /^kawasan-\d{4}-\d{2}-\d{2}\.csv$/.test(f))).toBe(true),
    after: () => {
      for (const f of readdirSync('.')) if (/^kawasan-\d{4}-\d{2}-\d{2}\.csv$/.test(f)) rmSync(f)
    },
  },
  "EDITOR_KEY=$(npx kawasan api-key create --scope editor --tenant sinar-baja --label 'energy team')": {
    kind: 'script',
    expect: (out) => {
      // Both rows of the example file land, and read back with the editor key and its tenant as actor.
      expect(out).toContain('"saved":[')
      const actors = [...out.matchAll(/"actor":"(k[0-9a-f]{10})@sinar-baja"/g)]
      expect(actors.length).toBeGreaterThanOrEqual(4) // 2 saved + 2 listed
      expect(out).toContain('"id":"sb-fix-2026-03-02"')
      expect(out).toContain('"id":"sb-fix-2026-03-05"')
    },
  },
  'curl -N -H "Authorization: Bearer $KEY" "$API/api/v1/live/stream"': {
    kind: 'stream',
    env: schedulerEnv,
    expect: /^data: \{/m,
  },
  // services/rollup/README.md
  'npx kawasan start # broker + ingest + simulator + api + rollup': lineByLine,
  'npx vitest run services/rollup test/integration/rollup-*.test.ts': { kind: 'part-of-npm-test' },
  // infra/grafana/README.md
  'sudo cp infra/grafana/provisioning/datasources/influxdb.yaml /etc/grafana/provisioning/datasources/kawasan.yaml':
    {
      kind: 'host-setup',
      why: 'Grafana is not in Debian: the provisioning files are checked by test/integration/api-grafana-dashboards.test.ts',
      map: () => [],
    },
  // infra/systemd/README.md
  'sudo useradd --system --home /var/lib/kawasan --shell /usr/sbin/nologin kawasan': {
    kind: 'host-setup',
    why: 'useradd, git clone and systemctl change the host; CI has no systemd',
    map: () => [...systemdInstall(), ['http://127.0.0.1:9464', `http://127.0.0.1:${ports.get(9464)}`]],
  },
  'sudo -u kawasan KAWASAN_DATA_DIR=/var/lib/kawasan/api /usr/bin/node /opt/kawasan/bin/kawasan.js api-key create --scope read':
    { kind: 'host-setup', why: 'the service user exists only on an installed host', map: systemdInstall },
}

// A hang detector, not a timing check: a 7-day minute backfill takes 15 s alone and more than
// 120 s once on CI beside the other test files (its last days starved of CPU).
function runScript(
  script: string,
  env: Env,
  timeoutMs = 300_000,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, KAWASAN_DATA_DIR: stackDir, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (out += d))
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

/** Starts a long-running line, waits for /ready on its OPS_PORT, sends SIGINT to its group (a Ctrl-C). */
async function serveAndStop(
  command: string,
  env: Env,
): Promise<{ ready: boolean; stopped: boolean; out: string }> {
  const child = spawn('bash', ['-c', command], {
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out = (out + d).slice(-20_000)))
  child.stderr!.on('data', (d: Buffer) => (out = (out + d).slice(-20_000)))
  let ready = false
  const deadline = Date.now() + 90_000
  while (!ready && Date.now() < deadline && child.exitCode === null) {
    ready = await fetch(`http://127.0.0.1:${env.OPS_PORT}/ready`)
      .then((r) => r.status === 200)
      .catch(() => false)
    if (!ready) await new Promise((r) => setTimeout(r, 250))
  }
  signalGroup(child, 'SIGINT')
  // Ctrl-C ends every process of the group (npx, node, a private influxd): wait until none is left.
  const stopped = await groupGone(child, 30_000)
  if (!stopped) {
    out += `\nstill running 30 s after SIGINT:\n${processesOf(child)}`
    signalGroup(child, 'SIGKILL')
  }
  return { ready, stopped, out }
}

/** Runs a streaming command until it prints `pattern` (or 30 s pass), then Ctrl-C. */
async function streamAndStop(
  command: string,
  env: Env,
  pattern: RegExp,
): Promise<{ matched: boolean; out: string }> {
  const child = spawn('bash', ['-c', command], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  const matched = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000)
    const onData = (d: Buffer) => {
      out = (out + d).slice(-20_000)
      if (pattern.test(out)) {
        clearTimeout(timer)
        resolve(true)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(pattern.test(out))
    })
  })
  signalGroup(child, 'SIGINT')
  return { matched, out }
}

function processesOf(child: ChildProcess): string {
  const r = spawnSync('ps', ['-o', 'pid,stat,etime,cmd', '-g', String(child.pid)], { encoding: 'utf8' })
  return r.stdout
}

/** Whether the detached child's process group has no process left, polled until `withinMs`. */
async function groupGone(child: ChildProcess, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      process.kill(-child.pid!, 0)
    } catch {
      return true // ESRCH: no process in the group
    }
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Signals a detached child's process group, as a terminal's Ctrl-C does; quiet if it is gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid && child.exitCode === null) process.kill(-child.pid, signal)
  } catch {
    // already exited
  }
}

const blocks = readmes().flatMap(shellBlocks)

beforeAll(async () => {
  for (const documented of [1883, 8080, 9464, 18086]) ports.set(documented, await freePort())
  stackDir = tempDir('kawasan-readme-')
  copyWithPorts('edge-agent/examples/agent.yaml')
  const config = join(stackDir, 'kawasan.yaml')
  writeFileSync(config, `influx:\n  localPort: ${ports.get(18086)}\n`)
  // `npm start`, as the README says, in a temporary data directory.
  stack = spawn('npm', ['start'], {
    env: {
      ...process.env,
      KAWASAN_DATA_DIR: stackDir,
      KAWASAN_CONFIG: config,
      MQTT_PORT: String(ports.get(1883)),
      API_PORT: String(ports.get(8080)),
      OPS_PORT: String(ports.get(9464)),
      LOG_FORMAT: 'json',
      SIMULATOR_INTERVAL_MS: '2000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  stack.stdout!.on('data', (d: Buffer) => (stackOutput = (stackOutput + d).slice(-50_000)))
  stack.stderr!.on('data', (d: Buffer) => (stackOutput = (stackOutput + d).slice(-50_000)))
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${ports.get(9464)}/ready`)
      .then((r) => r.status === 200)
      .catch(() => false)
    if (ok) break
    if (stack.exitCode !== null) throw new Error(`npm start exited:\n${stackOutput}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  // Let every simulated device report at least once (the README's first check counts the last minute).
  await new Promise((r) => setTimeout(r, 5_000))
}, 180_000)

afterAll(async () => {
  if (stack?.pid && stack.exitCode === null) {
    process.kill(-stack.pid, 'SIGINT')
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        process.kill(-stack!.pid!, 'SIGKILL')
        resolve()
      }, 20_000)
      stack!.once('exit', () => {
        clearTimeout(t)
        resolve()
      })
    })
  }
  for (const d of scratch) rmSync(d, { recursive: true, force: true })
})

describe('README commands', () => {
  it('finds the shell blocks of every README, and each is covered by a check', () => {
    expect(blocks.length).toBeGreaterThan(5)
    const uncovered = blocks.filter((b) => !CHECKS[keyOf(b)]).map((b) => `${b.file}:${b.line}: ${keyOf(b)}`)
    expect(uncovered, 'README blocks with no check: add one to CHECKS').toEqual([])
  })

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))(
    '%s works as written',
    async (_where, block) => {
      const check = CHECKS[keyOf(block)]
      if (!check) return // reported by the coverage test above
      if (check.kind === 'ci-and-stack') {
        const ci = readFileSync('.ci/run', 'utf8')
        for (const c of block.commands) {
          if (c === 'npm start')
            expect(stackOutput, 'npm start ran (this test’s stack)').toContain('started; Ctrl-C stops')
          else
            expect(ci, `.ci/run runs \`${c}\``).toMatch(
              new RegExp(`^${c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'm'),
            )
        }
        return
      }
      if (check.kind === 'script') {
        const env = (await check.env?.()) ?? {}
        try {
          const { code, out } = await runScript(asRun(block.commands.join('\n')), env)
          expect(code, out).toBe(0)
          check.expect?.(out)
        } finally {
          check.after?.()
        }
        return
      }
      if (check.kind === 'lines') {
        for (const command of block.commands) {
          const env = await check.env(command)
          if (LONG_RUNNING.test(command)) {
            const r = await serveAndStop(asRun(command), env)
            expect(r.ready, `\`${command}\` became ready:\n${r.out}`).toBe(true)
            expect(r.stopped, `\`${command}\` stopped on SIGINT, every process of it:\n${r.out}`).toBe(true)
          } else {
            const { code, out } = await runScript(asRun(command), env)
            expect(code, `\`${command}\`:\n${out}`).toBe(0)
          }
        }
        return
      }
      if (check.kind === 'stream') {
        const env = await check.env()
        const r = await streamAndStop(asRun(block.commands[0]!), env, check.expect)
        expect(r.matched, `\`${block.commands[0]}\` printed ${check.expect}:\n${r.out}`).toBe(true)
        return
      }
      if (check.kind === 'agent-first-steps') {
        const dir = tempDir('kawasan-readme-agent-')
        const ids = (c: string) =>
          asRun(c.replace('--cluster my-estate --plant my-plant', '--cluster cikarang --plant plant-a'))
        const env = { KAWASAN_AGENT_PASSWORD: 'demo-gw-plant-a' }
        const [init, check, run] = block.commands as [string, string, string]
        const inRepo = (c: string) => c.split('agent.yaml').join(join(dir, 'agent.yaml'))
        const made = await runScript(inRepo(ids(init)), env)
        expect(made.code, made.out).toBe(0)
        const config = join(dir, 'agent.yaml')
        // What the README says to do next by hand: point it at your broker (here the demo stack's).
        const edited = readFileSync(config, 'utf8')
          .replace(/^(\s*url:\s*).*$/m, `$1mqtt://127.0.0.1:${ports.get(1883)}`)
          .replace(/^(\s*dir:\s*).*$/m, `$1${join(dir, 'buffer')}`)
        writeFileSync(config, edited)
        const checked = await runScript(inRepo(check), env)
        expect(checked.code, checked.out).toBe(0)
        expect(checked.out).toMatch(/broker\s+OK/)
        const r = await streamAndStop(inRepo(run), env, /"msg":"agent started"/)
        expect(r.matched, r.out).toBe(true)
        return
      }
      if (check.kind === 'part-of-npm-test') {
        // The paths it names exist and `npm test` (vitest.config.ts) includes them.
        const { default: config } = await import('../../vitest.config.js')
        const include = (config as { test: { include: string[] } }).test.include
        for (const arg of block.commands[0]!.split(/\s+/).slice(3)) {
          const dir = arg.replace(/\/[^/]*\*.*$/, '')
          expect(existsSync(dir), `${arg} exists`).toBe(true)
          expect(
            include.some((g) => g.startsWith(`${dir.split('/')[0]!}/`)),
            `${arg} is part of npm test`,
          ).toBe(true)
        }
        return
      }
      // host-setup: run what runs on any machine, check that the files it copies exist.
      const map = check.map()
      for (const command of block.commands) {
        let mapped = command
        for (const [from, to] of map) mapped = mapped.split(from).join(to)
        mapped = asRun(mapped)
        const copied = /^sudo (?:cp|install)\b.*?\s((?:infra|edge-agent)\/\S+)\s/.exec(mapped)
        if (copied) {
          const { code } = await runScript(`ls ${copied[1]} >/dev/null`, {})
          expect(code, `${copied[1]} exists`).toBe(0)
        } else if (/kawasan\.js |^curl /.test(mapped)) {
          const { code, out } = await runScript(mapped.replace(/^sudo -u kawasan /, ''), {})
          expect(code, `\`${mapped}\`:\n${out}`).toBe(0)
        }
      }
    },
    900_000,
  )
})
