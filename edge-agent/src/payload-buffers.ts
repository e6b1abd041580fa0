/**
 * Backlog payloads written into buffers used again once their message is acknowledged, and kept
 * by mqtt.js as they are until then.
 *
 * A fresh 64 KB buffer per backlog message cost more than building the payload: on this VM a page
 * touched for the first time costs ~8 µs, and a payload's buffer, held by mqtt.js until its PUBACK,
 * was freed only by a full GC, so each message wrote into pages new to the process (copying the
 * readings into it 21 % of the drain, allocating it 6 %; docs/PERFORMANCE.md, round 6).
 *
 * mqtt.js stores a clone of every QoS 1 packet (rfdc, which copies a Buffer with Buffer.from) and
 * sends that clone again after a reconnect. Buffer.from(object) converts what object.valueOf()
 * answers when that is another value (node's documented behaviour): a payload answers its
 * ArrayBuffer, so the clone is a view of the same bytes instead of a copy. A view of the whole
 * ArrayBuffer is the payload itself only when the payload fills it; a payload written into a
 * larger reused buffer is put back in the clone's place by the store (PayloadStore.put), which
 * knows each reused buffer's current payload (only one at a time: a buffer is reused only after
 * the PUBACK of the message written in it, when mqtt.js has let go of it).
 */
import { type IPublishPacket, type Packet, Store } from 'mqtt'
import type { PayloadRoom } from './spool.js'

/** Room kept before each payload for `{"clock_offset_ms":-9007199254740991,` (38 bytes). */
const PREFIX_ROOM = 40
const PAGE = 4096

export class PayloadBuffers implements PayloadRoom {
  readonly at = PREFIX_ROOM
  /** Buffers whose message was acknowledged, to be written again. */
  private readonly free: ArrayBuffer[] = []
  /** Every buffer handed out, and the payload last written in it (see PayloadStore). */
  private readonly current = new WeakMap<ArrayBuffer, Buffer>()
  /** Size of the buffers allocated: the largest asked for so far, whole pages. */
  private size = 0
  /** Whether acknowledged buffers are kept (while a backlog drains). */
  private reusing = true

  /** @param keep how many acknowledged buffers wait at most to be written again. */
  constructor(private readonly keep: number) {}

  take(bytes: number): Buffer {
    this.reusing = true
    const need = PREFIX_ROOM + bytes
    for (let ab = this.free.pop(); ab; ab = this.free.pop()) if (ab.byteLength >= need) return Buffer.from(ab)
    this.size = Math.max(this.size, Math.ceil(need / PAGE) * PAGE)
    const buf = Buffer.allocUnsafeSlow(this.size)
    this.current.set(buf.buffer as ArrayBuffer, buf)
    return buf
  }

  /** Whether `payload` was written into one of these buffers. */
  owns(payload: Buffer): boolean {
    return this.current.has(payload.buffer as ArrayBuffer)
  }

  /**
   * `payload` (written into one of these buffers, or filling an ArrayBuffer of its own) is to be
   * kept by mqtt.js as it is: its valueOf answers its ArrayBuffer, and the store puts the payload
   * back in place of the view of the whole buffer. Payloads are not written after they are built
   * (until their buffer is reused after the PUBACK), so sharing them is safe; a small one from
   * node's pool (one reading) is left as it is and copied.
   */
  kept(payload: Buffer): Buffer {
    const whole = payload.buffer as ArrayBuffer
    const ours = this.current.has(whole)
    if (ours) this.current.set(whole, payload)
    if (ours || (payload.byteOffset === 0 && payload.byteLength === whole.byteLength))
      Object.defineProperty(payload, 'valueOf', { value: () => whole })
    return payload
  }

  /** The payload last written in the buffer `whole`, if it is one of these. */
  payloadIn(whole: ArrayBufferLike): Buffer | undefined {
    return this.current.get(whole as ArrayBuffer)
  }

  /** The message written in `payload`'s buffer was acknowledged: mqtt.js no longer holds it. */
  acknowledged(payload: Buffer): void {
    const whole = payload.buffer as ArrayBuffer
    if (this.reusing && this.free.length < this.keep && this.current.has(whole)) this.free.push(whole)
  }

  /** No backlog left: none kept (those still in flight are let go when acknowledged). */
  drained(): void {
    this.reusing = false
    this.free.length = 0
  }
}

/**
 * mqtt.js's store of QoS 1 messages awaiting PUBACK, given back the payload itself when mqtt.js's
 * clone of a packet holds a view of the whole buffer it was written in.
 */
export class PayloadStore extends Store {
  constructor(private readonly buffers: PayloadBuffers) {
    super()
  }

  override put(packet: Packet, cb?: () => void): this {
    const payload = (packet as IPublishPacket).payload // none in a PUBREL (QoS 2, not used)
    if (payload instanceof Uint8Array && payload.byteOffset === 0) {
      const written = this.buffers.payloadIn(payload.buffer)
      if (written && payload.byteLength === payload.buffer.byteLength)
        (packet as IPublishPacket).payload = written
    }
    return super.put(packet, cb as () => void)
  }
}
