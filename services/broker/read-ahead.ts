/**
 * Read-ahead for messages held until InfluxDB stores them (in-broker ingest, docs/PERFORMANCE.md).
 *
 * aedes 1.2 reads a connection's next bytes only once every packet of its last socket read has
 * been handled (lib/client.js: `enqueue` counts packets in `_parsingBatch`, `nextBatch` reads again
 * at zero). With the PUBACK held until the write (services/broker/app.ts), each gateway therefore
 * had one socket read's worth of messages (~64 KB) in ingest at a time, and waited a whole write
 * round trip before the next: the broker idled half the time while gateways had messages queued.
 *
 * Here a held message stops counting for its read as soon as ingest has it, so aedes parses the
 * next bytes while the write is under way; its PUBACK still waits for the write. Bounded per
 * connection (bytes of payload held), so one gateway cannot fill the broker's memory; the sink's
 * own back-pressure (`isFull`) still pauses every connection. PUBACKs leave in the order the
 * PUBLISH packets came [MQTT-4.6.0-2], even when later messages are stored first (two writes run
 * at once). test/integration/broker-read-ahead.test.ts checks all three.
 */
import type { Client } from 'aedes'

/** The aedes 1.2 client internals this relies on (checked at construction). */
interface ParsingClient {
  _parsingBatch: number
  _paused: boolean
  _nextBatch: (err?: Error) => void
  closed: boolean
}

export interface ReadAheadLimits {
  /** Payload bytes one connection may have held in ingest beyond its current socket read. */
  maxHeldBytes: number
  /** Messages one connection may have held beyond its current socket read. */
  maxHeldMessages: number
}

export const DEFAULT_READ_AHEAD: ReadAheadLimits = { maxHeldBytes: 2 * 1024 * 1024, maxHeldMessages: 500 }

/**
 * The messages of one connection waiting for the same write: ingest gives every message of a write
 * batch the batch's promise, so one callback settles them all (not a promise per message).
 */
interface Group {
  outcome: 'pending' | 'stored' | 'failed'
  error?: Error
}

/** A message held until its write, in the order its connection sent it. */
interface Held {
  bytes: number
  /** Taken out of aedes's count for its socket read (put back before its PUBACK). */
  taken: boolean
  /** Counted against the connection's bounds. */
  counted: boolean
  group: Group
  /** Acknowledged (or failed) already: nothing of it is left to take out. */
  done: boolean
  ack: () => void
  fail: (client: Client, err: Error) => void
}

interface Flow {
  owner: Client
  client: ParsingClient
  /** The client has the internals read-ahead needs (checked once per connection). */
  supported: boolean
  heldBytes: number
  heldMessages: number
  /** Held messages, oldest first: PUBACKs leave from the front only. */
  queue: Held[]
  /** Messages to take out of aedes's count at the next turn (one timer per connection and turn). */
  toTake: Held[]
  immediate: NodeJS.Immediate | undefined
  /** The promise of the last held message and its group, for the next message of the same batch. */
  lastStored: Promise<unknown> | undefined
  lastGroup: Group | undefined
}

export class ReadAhead {
  private readonly flows = new WeakMap<Client, Flow>()

  constructor(private readonly limits: ReadAheadLimits = DEFAULT_READ_AHEAD) {}

  /** True when this aedes client has the internals read-ahead needs (else messages just wait). */
  static supported(client: Client): boolean {
    const c = client as unknown as Partial<ParsingClient>
    return typeof c._parsingBatch === 'number' && typeof c._nextBatch === 'function'
  }

  /**
   * Holds a message until `stored` settles, lets aedes read on meanwhile when the connection is
   * under its bounds, and calls `ack` (or `fail`) in the order the messages were held.
   */
  hold(
    client: Client,
    bytes: number,
    stored: Promise<unknown>,
    ack: () => void,
    fail: (client: Client, err: Error) => void,
  ): void {
    let flow = this.flows.get(client)
    if (!flow) {
      flow = {
        owner: client,
        client: client as unknown as ParsingClient,
        supported: ReadAhead.supported(client),
        heldBytes: 0,
        heldMessages: 0,
        queue: [],
        toTake: [],
        immediate: undefined,
        lastStored: undefined,
        lastGroup: undefined,
      }
      this.flows.set(client, flow)
    }
    const f = flow
    const group = this.groupOf(f, stored)
    const held: Held = { bytes, taken: false, counted: false, group, done: false, ack, fail }
    f.queue.push(held)
    if (
      f.supported &&
      f.heldMessages < this.limits.maxHeldMessages &&
      f.heldBytes + bytes <= this.limits.maxHeldBytes
    ) {
      held.counted = true
      f.heldBytes += bytes
      f.heldMessages++
      f.toTake.push(held)
      // aedes is inside its parse loop now: the count is changed once it has handed out the read.
      f.immediate ??= setImmediate(() => this.take(f))
    }
  }

  /** The group of the connection's last message when it waits for the same promise, else a new one. */
  private groupOf(f: Flow, stored: Promise<unknown>): Group {
    if (stored === f.lastStored && f.lastGroup?.outcome === 'pending') return f.lastGroup
    const group: Group = { outcome: 'pending' }
    f.lastStored = stored
    f.lastGroup = group
    stored.then(
      () => {
        group.outcome = 'stored'
        this.settle(f)
      },
      (err: Error) => {
        group.outcome = 'failed'
        group.error = err
        this.settle(f)
      },
    )
    return group
  }

  /** Takes the waiting messages out of aedes's count for their read, reading on at zero. */
  private take(f: Flow): void {
    f.immediate = undefined
    const c = f.client
    const batch = f.toTake
    f.toTake = []
    // aedes's own pause (during CONNECT) or a closed connection: the count stays as it is.
    if (c._paused || c.closed) return
    let n = 0
    for (const h of batch) {
      if (h.done) continue
      h.taken = true
      n++
    }
    if (n === 0) return
    c._parsingBatch -= n - 1
    c._nextBatch() // the last one: reads the next bytes when nothing of the last read is left
  }

  /** Acknowledges from the front while the front is settled. */
  private settle(f: Flow): void {
    while (f.queue.length > 0 && f.queue[0]!.group.outcome !== 'pending') {
      const h = f.queue.shift()!
      h.done = true
      if (h.counted) {
        f.heldBytes -= h.bytes
        f.heldMessages--
      }
      // Put back before aedes, at the end of this PUBACK, takes it out again.
      if (h.taken) f.client._parsingBatch++
      if (h.group.outcome === 'stored') h.ack()
      else h.fail(f.owner, h.group.error!)
    }
    if (f.queue.length === 0) {
      f.lastStored = undefined
      f.lastGroup = undefined
    }
  }
}
