// The quiet `debug` factory (shared/quiet-debug.ts), each case in a fresh node process: what it
// replaces depends on what was loaded before it, which a test runner's own process has done.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

/** Runs `body` (ESM, top-level await) after importing `modules`, under tsx, in the repository. */
function run(modules: string[], body: string, env: Record<string, string> = {}) {
  const imports = modules.map((m) => `await import(${JSON.stringify(join(root, m))})`).join('\n')
  const code = `
    import { createRequire } from 'node:module'
    ${imports}
    const require = createRequire(${JSON.stringify(`${root}/`)})
    const packet = require('mqtt-packet')
    const publish = packet.generate({ cmd: 'publish', topic: 'kawasan/p/g/telemetry', payload: '{}', qos: 1, messageId: 7 })
    const parse = () => { const p = packet.parser({ protocolVersion: 4 }); p.on('packet', () => {}); p.parse(publish) }
    ${body}`
  const { DEBUG: _, ...parent } = process.env
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...parent, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`)
  return { out: r.stdout, err: r.stderr }
}

describe('quiet debug for the MQTT packages', () => {
  it('is what the broker, the subscriber and mqtt.js clients get their loggers from', () => {
    const { out } = run(
      ['services/broker/app.ts', 'services/ingest/subscriber.ts'],
      `const mqtt = require('mqtt')
       const c = mqtt.connect('mqtt://127.0.0.1:9', { reconnectPeriod: 0, connectTimeout: 100 })
       c.on('error', () => {})
       c.end(true)
       const { quietNamespaces } = await import(${JSON.stringify(join(root, 'shared/quiet-debug.ts'))})
       console.log(JSON.stringify([...quietNamespaces]))`,
    )
    const made = JSON.parse(out) as string[]
    expect(made).toEqual(
      expect.arrayContaining(['mqtt-packet:parser', 'mqtt-packet:writeToStream', 'mqttjs:client']),
    )
  })

  it('writes nothing with DEBUG unset, and what DEBUG names as before', () => {
    expect(run(['services/broker/app.ts'], 'parse()').err).toBe('')
    const on = run(['services/broker/app.ts'], 'parse()', { DEBUG: 'mqtt-packet:parser' }).err
    expect(on).toContain('mqtt-packet:parser')
    expect(on).toContain('parse: packet')
    expect(on).not.toContain('mqtt-packet:writeToStream')
  })

  it('follows debug.enable() and disable() at run time, and a log function set on the module', () => {
    const { out, err } = run(
      ['services/broker/app.ts'],
      `const debug = require('debug')
       parse()
       console.log('quiet before enable')
       debug.log = (...args) => console.log('LOGGED', args.join(' ').includes('mqtt-packet:parser'))
       debug.enable('mqtt-packet:*')
       parse()
       debug.disable()
       console.log('disabled')
       parse()`,
    )
    expect(err).toBe('')
    const lines = out.trim().split('\n')
    expect(lines[0]).toBe('quiet before enable')
    const disabledAt = lines.indexOf('disabled')
    expect(lines.slice(1, disabledAt).length).toBeGreaterThan(0)
    expect(new Set(lines.slice(1, disabledAt))).toEqual(new Set(['LOGGED true']))
    expect(lines.slice(disabledAt + 1)).toEqual([])
  })

  it('leaves a logger made before it alone and replaces the module once', () => {
    const { out } = run(
      [],
      `const before = require('debug')
       const { installQuietDebug } = await import(${JSON.stringify(join(root, 'shared/quiet-debug.ts'))})
       const once = require('debug')
       installQuietDebug()
       console.log(JSON.stringify([before === once, once === require('debug'), once('x').enabled === before('x').enabled]))`,
    )
    expect(JSON.parse(out)).toEqual([false, true, true])
  })
})
