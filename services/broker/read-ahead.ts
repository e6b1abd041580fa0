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

interface Flow {
  heldBytes: number
  heldMessages: number
  /** Settles when the PUBACK of the newest held message may go. */
  tail: Promise<void>
}

const noop = () => {}

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
    fail: (err: Error) => void,
  ): void {
    let flow = this.flows.get(client)
    if (!flow) {
      flow = { heldBytes: 0, heldMessages: 0, tail: Promise.resolve() }
      this.flows.set(client, flow)
    }
    const f = flow
    const released =
      ReadAhead.supported(client) &&
      f.heldMessages < this.limits.maxHeldMessages &&
      f.heldBytes + bytes <= this.limits.maxHeldBytes
        ? this.release(client as unknown as ParsingClient)
        : undefined
    if (released) {
      f.heldBytes += bytes
      f.heldMessages++
    }
    // The acknowledgement waits for this message's write and for every earlier one's PUBACK.
    const outcome = Promise.allSettled([f.tail, stored]).then(([, s]) => s)
    f.tail = outcome.then(noop)
    void outcome.then((s) => {
      if (released) {
        f.heldBytes -= bytes
        f.heldMessages--
        released.settle()
      }
      if (s.status === 'fulfilled') ack()
      else fail(s.reason as Error)
    })
  }

  /**
   * Takes one packet out of the client's parsing batch on the next turn (aedes is inside its parse
   * loop now), reading on when it was the last; `settle` puts it back before aedes, called by the
   * PUBACK's completion, takes it out again.
   */
  private release(c: ParsingClient): { settle(): void } {
    let taken = false
    const immediate = setImmediate(() => {
      if (c._paused || c.closed) return // aedes's own pause (CONNECT) keeps the count as it is
      taken = true
      c._nextBatch()
    })
    return {
      settle: () => {
        clearImmediate(immediate)
        if (taken) c._parsingBatch++
      },
    }
  }
}
