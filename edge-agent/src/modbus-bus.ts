/**
 * One Modbus connection (a TCP socket to a meter or gateway, or a serial RS-485 line) shared by
 * every device behind it. Requests are serialised, because an RS-485 bus and most TCP→RTU gateways
 * carry one transaction at a time, and each has its own timeout, so a dead unit costs the bus at
 * most one timeout per attempt; the poller's backoff makes those attempts rare (docs/DESIGN.md §9:
 * one dead meter must not stop the others).
 */
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js'
import type { Logger } from '../../shared/logger.js'
import { classifyModbusError } from './classify-modbus-error.js'
import type { PollTurn, PollTurns } from './drivers/driver.js'
import { AgentError } from './errors.js'

export type BusTarget =
  | { kind: 'tcp'; host: string; port: number }
  | {
      kind: 'rtu'
      path: string
      baudRate: number
      parity: 'none' | 'even' | 'odd'
      dataBits: 7 | 8
      stopBits: 1 | 2
    }

export function busKey(t: BusTarget): string {
  return t.kind === 'tcp' ? `tcp://${t.host}:${t.port}` : `rtu://${t.path}`
}

interface RegisterRead {
  unitId: number
  fn: 'holding' | 'input'
  address: number
  length: number
  timeoutMs: number
}

export interface BusOptions {
  connectTimeoutMs?: number
  /** After a failed connect, requests fail fast for this long instead of each waiting to connect. */
  reconnectDelayMs?: number
  now?: () => number
}

export class ModbusBus implements PollTurns {
  readonly key: string
  private client: ModbusRTU | undefined
  private tail: Promise<unknown> = Promise.resolve()
  private readonly turns: PollTurn[] = []
  private turning = false
  private connectFailedAt = Number.NEGATIVE_INFINITY
  private lastConnectError: AgentError | undefined
  private closed = false
  private readonly connectTimeoutMs: number
  private readonly reconnectDelayMs: number
  private readonly now: () => number

  constructor(
    readonly target: BusTarget,
    private readonly log: Logger,
    options: BusOptions = {},
  ) {
    this.key = busKey(target)
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000
    this.reconnectDelayMs = options.reconnectDelayMs ?? 2000
    this.now = options.now ?? Date.now
  }

  /** Reads `length` registers; queued behind the bus's other requests. */
  read(
    unitId: number,
    fn: 'holding' | 'input',
    address: number,
    length: number,
    timeoutMs: number,
  ): Promise<number[]> {
    const op = this.tail.then(() => this.readNow({ unitId, fn, address, length, timeoutMs }))
    this.tail = op.catch(() => undefined)
    return op
  }

  /**
   * Queues a device's poll behind the polls of the other devices on this bus. Waiting, a device
   * holds only its place in this queue. With every poll started at its tick and its requests
   * queued instead, 50 units behind one gateway each held a suspended poll (frames, promises, a
   * queued request) for up to the whole bus cycle: long enough for the garbage collector to
   * promote them all, the agent's main cost in memory at 200 meters (docs/PERFORMANCE.md, "Edge
   * agent"). Requests outside a turn (`kawasan-agent check`) still queue with `read` as before.
   */
  queueTurn(turn: PollTurn): void {
    this.turns.push(turn)
    if (!this.turning) void this.takeTurns()
  }

  private async takeTurns(): Promise<void> {
    this.turning = true
    for (let turn = this.turns.shift(); turn; turn = this.turns.shift()) {
      try {
        await turn.takeTurn()
      } catch (err) {
        // A turn handles its own failures; should one escape, the devices after it still poll.
        this.log.error({ bus: this.key, err: String(err) }, 'device poll failed outside its handler')
      }
    }
    this.turning = false
  }

  async close(): Promise<void> {
    this.closed = true
    await this.tail
    await this.dropClient()
  }

  private async readNow({ unitId, fn, address, length, timeoutMs }: RegisterRead): Promise<number[]> {
    if (this.closed) throw new AgentError('STOPPED', `${this.key} is closed`)
    // Connected already on every poll but the first: no promise for the common case.
    const client = this.client?.isOpen ? this.client : await this.connected()
    client.setID(unitId)
    client.setTimeout(timeoutMs)
    const transaction = transactionId(client)
    try {
      // modbus-serial's callback form: its promise form wraps each call in a bound function, two
      // argument arrays and a closure (docs/PERFORMANCE.md, "Edge agent": allocation per poll).
      return await new Promise<number[]>((resolve, reject) => {
        const done = (err: unknown, res?: { data: number[] }) => (err ? reject(err) : resolve(res!.data))
        if (fn === 'holding') client.writeFC3(unitId, address, length, done)
        else client.writeFC4(unitId, address, length, done)
      })
    } catch (err) {
      const classified = classifyModbusError(err, `${this.key} unit ${unitId} ${fn} ${address}+${length}`)
      // A broken socket or port: reconnect on the next request. A timeout or exception code keeps
      // the connection, since other units behind the same gateway still answer.
      if (classified.code === 'DEVICE_UNREACHABLE' || !client.isOpen) await this.dropClient()
      throw classified
    } finally {
      forgetTransaction(client, transaction)
    }
  }

  private async connected(): Promise<ModbusRTU> {
    if (this.client?.isOpen) return this.client
    await this.dropClient()
    if (this.now() - this.connectFailedAt < this.reconnectDelayMs && this.lastConnectError)
      throw this.lastConnectError
    // Loaded at the first connect: an agent with simulated devices only never needs it (memory).
    const { default: ModbusSerial } = await import('modbus-serial')
    const client = new ModbusSerial.default()
    try {
      await withTimeout(
        this.open(client),
        this.connectTimeoutMs,
        () =>
          new AgentError(
            'DEVICE_UNREACHABLE',
            `${this.key}: connect timed out after ${this.connectTimeoutMs} ms`,
          ),
      )
    } catch (err) {
      client.close(() => undefined)
      const e =
        err instanceof AgentError
          ? err
          : new AgentError('DEVICE_UNREACHABLE', `${this.key}: ${(err as Error).message}`, { cause: err })
      this.connectFailedAt = this.now()
      this.lastConnectError = e
      this.log.debug({ bus: this.key, err: e.message }, 'connect failed')
      throw e
    }
    client.on('error', (err: unknown) => this.log.debug({ bus: this.key, err: String(err) }, 'bus error'))
    this.lastConnectError = undefined
    this.client = client
    this.log.debug({ bus: this.key }, 'connected')
    return client
  }

  private async open(client: ModbusRTU): Promise<void> {
    const t = this.target
    if (t.kind === 'tcp') {
      await client.connectTCP(t.host, { port: t.port })
      return
    }
    // serialport is native and optional: load it only when an RTU device is configured, and say
    // what to do when the platform has no prebuilt binary.
    try {
      await import('serialport')
    } catch (err) {
      throw new AgentError(
        'SERIAL_UNAVAILABLE',
        `Modbus RTU needs the "serialport" package, which did not load (${(err as Error).message}). Install it next to the agent with \`npm install serialport\` (needs a prebuilt binary for this platform, or python3, make and a C++ compiler).`,
        { cause: err },
      )
    }
    await client.connectRTUBuffered(t.path, {
      baudRate: t.baudRate,
      parity: t.parity,
      dataBits: t.dataBits,
      stopBits: t.stopBits,
    })
  }

  private async dropClient(): Promise<void> {
    const c = this.client
    this.client = undefined
    if (!c) return
    await new Promise<void>((resolve) => {
      try {
        c.close(() => resolve())
      } catch {
        resolve()
      }
      setTimeout(resolve, 500).unref()
    })
  }
}

/** modbus-serial's own fields this module reaches into (not in its typings). */
interface ModbusSerialInternals {
  _transactions?: Record<string, unknown>
  _port?: { _transactionIdWrite?: number }
}

/** The id modbus-serial files the next request under (TCP: 0–255 round robin; serial: none). */
function transactionId(client: ModbusRTU): number | undefined {
  return (client as unknown as ModbusSerialInternals)._port?._transactionIdWrite
}

/**
 * modbus-serial keeps every finished TCP request (its response Buffer, promise and callbacks,
 * ~2 KB) in a table by transaction id until the id comes round again, 256 requests later: ~0.6 MB
 * per connection, more than half of what 200 meters behind 4 gateways added to the live heap
 * (docs/PERFORMANCE.md, "Edge agent"). Requests on a bus run one at a time, so once one has
 * finished none is waiting, and its id is the one it was filed under; modbus-serial ignores a late
 * answer to a forgotten id, as to an unknown one. (Emptying the table with for…in instead cost
 * ~1.7 KB of garbage per read: the keys it lists.)
 */
function forgetTransaction(client: ModbusRTU, id: number | undefined): void {
  const table = (client as unknown as ModbusSerialInternals)._transactions
  // A serial port has no transaction ids: modbus-serial then files every request under "undefined".
  if (table) delete table[String(id)]
}

/** Rejects with `onTimeout()` when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    p.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

/** Shares one bus per TCP endpoint or serial port among the devices that use it. */
export class BusRegistry {
  private readonly buses = new Map<string, ModbusBus>()
  constructor(
    private readonly log: Logger,
    private readonly options: BusOptions = {},
  ) {}

  get(target: BusTarget): ModbusBus {
    const key = busKey(target)
    let bus = this.buses.get(key)
    if (!bus) {
      bus = new ModbusBus(target, this.log, this.options)
      this.buses.set(key, bus)
    }
    return bus
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.buses.values()].map((b) => b.close()))
    this.buses.clear()
  }
}
