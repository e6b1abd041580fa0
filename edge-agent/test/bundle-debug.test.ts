/**
 * The shipped bundle's `debug` (edge-agent/scripts/bundle.mjs): the libraries' debug logs are off,
 * with no work per call, unless DEBUG is set when the agent starts; then they print as before, so
 * a plant engineer can still trace Modbus traffic with DEBUG=modbus-serial.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type TestBroker } from './helpers/broker.js'
import { checkThroughBundle } from './helpers/bundle-check.js'
import { startModbusServer, type TestModbusServer } from './helpers/modbus-server.js'

describe('the bundle with and without DEBUG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-bundle-debug-'))
  const config = join(dir, 'agent.yaml')
  let meters: TestModbusServer
  let broker: TestBroker

  beforeAll(async () => {
    const input = new Map<number, number>()
    for (let a = 0; a < 80; a++) input.set(a, a % 2 === 0 ? 0x4248 : 0) // 50.0 as float32
    meters = await startModbusServer(new Map([[1, { input }]]))
    broker = await startBroker()
    writeFileSync(
      config,
      [
        'cluster: cikarang',
        'plant: plant-a',
        `broker: { url: "${broker.url}" }`,
        `buffer: { dir: "${join(dir, 'buffer')}" }`,
        'devices:',
        `  - { id: meter-1, role: load, driver: modbus-tcp, host: 127.0.0.1, port: ${meters.port}, unit_id: 1, profile: sdm630 }`,
        '',
      ].join('\n'),
    )
  }, 60_000)
  afterAll(async () => {
    await broker.stop()
    await meters.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** `kawasan-agent check` through the bundle; what it printed on stderr. */
  async function check(env: NodeJS.ProcessEnv): Promise<string> {
    const { stderr, stdout, code } = await checkThroughBundle(config, env)
    expect(code).toBe(0)
    expect(stdout).toContain('meter-1')
    return stderr
  }

  it('prints no library debug lines without DEBUG', async () => {
    const err = await check({})
    expect(err).not.toContain('modbus-serial')
    expect(err).not.toContain('mqttjs')
  })

  it('prints modbus-serial and mqtt.js debug lines with DEBUG set', async () => {
    const err = await check({ DEBUG: 'modbus-serial,mqttjs*' })
    expect(err).toMatch(/modbus-serial .*TCP port: signal connect/)
    expect(err).toMatch(/mqttjs:client/)
  })
})
