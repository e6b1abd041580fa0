/**
 * The agent catalogue's codes (edge-agent/src/errors.ts, docs/ERRORS.md) that no other test triggers,
 * each raised by the real thing: files on disk, a real Modbus TCP server, a TCP device that answers
 * with a malformed frame, and the agent's bus in a process without the optional `serialport` package.
 * Assertions are on `code` and `retryable` (the table decided once, docs/CONVENTIONS.md §5), never on messages.
 */

import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { thrown } from '../../test/helpers/thrown.js'
import { loadAgentConfig } from '../src/config.js'
import { ModbusBus } from '../src/modbus-bus.js'
import { freePort, startModbusServer } from './helpers/modbus-server.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const dir = mkdtempSync(join(tmpdir(), 'kawasan-agent-error-codes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('agent config files', () => {
  it('a config file that does not exist is AGENT_CONFIG_UNREADABLE, not retryable', async () => {
    const err = await thrown(() => loadAgentConfig(join(dir, 'missing.yaml'), { env: {} }))
    expect(err).toMatchObject({ name: 'AgentError', code: 'AGENT_CONFIG_UNREADABLE', retryable: false })
  })

  it('a config file that is not YAML is AGENT_CONFIG_SYNTAX, not retryable', async () => {
    const file = join(dir, 'broken.yaml')
    writeFileSync(file, 'broker:\n  url: "mqtt://127.0.0.1:1883\ndevices: [\n')
    const err = await thrown(() => loadAgentConfig(file, { env: {} }))
    expect(err).toMatchObject({ code: 'AGENT_CONFIG_SYNTAX', retryable: false })
  })
})

describe('Modbus devices', () => {
  it('a register the device does not have is DEVICE_EXCEPTION (exception 2), retryable', async () => {
    const server = await startModbusServer(new Map([[1, { holding: new Map([[0, 42]]) }]]))
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
    try {
      await expect(bus.read(1, 'holding', 0, 1, 1000)).resolves.toEqual([42])
      const err = await thrown(() => bus.read(1, 'holding', 500, 2, 1000))
      expect(err).toMatchObject({ code: 'DEVICE_EXCEPTION', retryable: true })
    } finally {
      await bus.close()
      await server.stop()
    }
  })

  it('a closed port is DEVICE_UNREACHABLE, retryable', async () => {
    const port = await freePort()
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port }, silentLogger())
    try {
      const err = await thrown(() => bus.read(1, 'holding', 0, 2, 500))
      expect(err).toMatchObject({ code: 'DEVICE_UNREACHABLE', retryable: true })
    } finally {
      await bus.close()
    }
  })

  it('a device that answers with fewer registers than asked is DEVICE_BAD_RESPONSE, retryable', async () => {
    // A Modbus TCP "device" that answers every read with one register, whatever was asked: the
    // frame is well formed but its length is wrong (Modbus Application Protocol V1.1b3 §6.3).
    const device: Server = createServer((socket) => {
      socket.on('data', (req) => {
        const reply = Buffer.alloc(11)
        req.copy(reply, 0, 0, 4) // transaction and protocol ids, as asked
        reply.writeUInt16BE(5, 4) // length: unit, function, byte count, one register
        reply.writeUInt8(req.readUInt8(6), 6) // unit id
        reply.writeUInt8(req.readUInt8(7), 7) // function code
        reply.writeUInt8(2, 8) // byte count: one register
        reply.writeUInt16BE(0x1234, 9)
        socket.write(reply)
      })
    })
    await new Promise<void>((r) => device.listen(0, '127.0.0.1', () => r()))
    const { port } = device.address() as { port: number }
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port }, silentLogger())
    try {
      const err = await thrown(() => bus.read(1, 'holding', 0, 4, 1000))
      expect(err).toMatchObject({ code: 'DEVICE_BAD_RESPONSE', retryable: true })
    } finally {
      await bus.close()
      await new Promise<void>((r) => device.close(() => r()))
    }
  })
})

describe('Modbus RTU without the serialport package', () => {
  it('an RTU device on a machine where serialport did not install is SERIAL_UNAVAILABLE, not retryable', async () => {
    // serialport is an optional dependency (npm skips it when its native build fails). Reproduce that
    // machine: the bus's own files and modbus-serial's runtime dependencies, but no serialport.
    const app = join(dir, 'no-serialport')
    mkdirSync(join(app, 'edge-agent/src'), { recursive: true })
    for (const f of ['modbus-bus.ts', 'classify-modbus-error.ts', 'errors.ts'])
      cpSync(join(root, 'edge-agent/src', f), join(app, 'edge-agent/src', f))
    writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n')
    mkdirSync(join(app, 'node_modules'))
    for (const pkg of ['modbus-serial', 'debug', 'ms'])
      symlinkSync(join(root, 'node_modules', pkg), join(app, 'node_modules', pkg))
    writeFileSync(
      join(app, 'probe.ts'),
      `import { ModbusBus } from './edge-agent/src/modbus-bus.ts'
const log = { debug() {} } as never
const target = { kind: 'rtu', path: '/dev/ttyKAWASAN0', baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 } as const
try {
  await new ModbusBus(target, log).read(1, 'holding', 0, 1, 500)
  console.log(JSON.stringify({ ok: true }))
} catch (err) {
  console.log(JSON.stringify({ code: err.code, retryable: err.retryable }))
}
`,
    )
    const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/esm/index.mjs')).href
    const stdout = await new Promise<string>((res, rej) =>
      execFile(process.execPath, ['--import', tsx, 'probe.ts'], { cwd: app, timeout: 30_000 }, (err, out) =>
        err ? rej(err) : res(out),
      ),
    )
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({
      code: 'SERIAL_UNAVAILABLE',
      retryable: false,
    })
  })
})
