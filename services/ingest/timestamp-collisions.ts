/**
 * Two different readings of one device with the same timestamp would silently overwrite each other
 * in InfluxDB (a point's identity is its series and time). That happens when a gateway's clock
 * jumps backwards (REL-12). The agent numbers its readings, so a second `seq` at a known timestamp
 * is a collision: the later reading goes to dead letter (kept, with its reason) instead of
 * overwriting. Redeliveries carry the same `seq` and pass. Memory-bounded and per process: after a
 * restart, or beyond `perDevice` recent readings, a collision is not seen (best effort).
 */

/**
 * The recent timestamps of one device, oldest evicted first: an open-addressing hash table (linear
 * probing, deletion by backward shift) over typed arrays, and a ring for the eviction order. A
 * `Map<number, number>` did the same, but every timestamp above 2^31 became a heap number and
 * every eviction a deleted slot to rehash: 7–9 % of the in-broker process's CPU (docs/PERFORMANCE.md).
 * Timestamps are compared with `===`.
 */
class RecentTimes {
  private keys: Float64Array
  private seqs: Float64Array
  private used: Uint8Array
  private mask: number
  private size = 0
  /** Timestamps in insertion order, grown to `capacity` and then overwritten oldest first. */
  private readonly ring: number[] = []
  private next = 0

  constructor(private readonly capacity: number) {
    const slots = 16
    this.keys = new Float64Array(slots)
    this.seqs = new Float64Array(slots)
    this.used = new Uint8Array(slots)
    this.mask = slots - 1
  }

  /** True when another seq holds `ts`; otherwise records (ts, seq), evicting the oldest when full. */
  collides(ts: number, seq: number): boolean {
    let i = this.slotOf(ts)
    if (this.used[i] === 1) return this.seqs[i] !== seq
    if (this.size >= this.capacity) {
      this.remove(this.ring[this.next]!)
      i = this.slotOf(ts)
    } else if ((this.size + 1) * 2 > this.keys.length) {
      this.grow()
      i = this.slotOf(ts)
    }
    this.keys[i] = ts
    this.seqs[i] = seq
    this.used[i] = 1
    this.size++
    this.ring[this.next] = ts
    this.next = (this.next + 1) % this.capacity
    return false
  }

  /** True when another seq holds `ts`; records nothing. */
  holdsOther(ts: number, seq: number): boolean {
    const i = this.slotOf(ts)
    return this.used[i] === 1 && this.seqs[i] !== seq
  }

  /** The slot holding `ts`, or the free slot where it would go. */
  private slotOf(ts: number): number {
    let i = home(ts, this.mask)
    while (this.used[i] === 1 && this.keys[i] !== ts) i = (i + 1) & this.mask
    return i
  }

  /** Deletes `ts` and moves later entries of its probe run back, so no look-up stops short. */
  private remove(ts: number): void {
    let i = this.slotOf(ts)
    if (this.used[i] !== 1) return
    this.used[i] = 0
    this.size--
    let j = i
    for (;;) {
      j = (j + 1) & this.mask
      if (this.used[j] !== 1) return
      const k = home(this.keys[j]!, this.mask)
      // Entry j may move to i only if its home is not cyclically within (i, j].
      const stays = i <= j ? i < k && k <= j : i < k || k <= j
      if (stays) continue
      this.keys[i] = this.keys[j]!
      this.seqs[i] = this.seqs[j]!
      this.used[i] = 1
      this.used[j] = 0
      i = j
    }
  }

  private grow(): void {
    const { keys, seqs, used } = this
    const slots = keys.length * 2
    this.keys = new Float64Array(slots)
    this.seqs = new Float64Array(slots)
    this.used = new Uint8Array(slots)
    this.mask = slots - 1
    for (let s = 0; s < used.length; s++) {
      if (used[s] !== 1) continue
      const i = this.slotOf(keys[s]!)
      this.keys[i] = keys[s]!
      this.seqs[i] = seqs[s]!
      this.used[i] = 1
    }
  }
}

/** Hash of a timestamp (an integer of up to 53 bits): both 32-bit halves, mixed. */
function home(ts: number, mask: number): number {
  const low = ts >>> 0
  const high = (ts / 4294967296) >>> 0
  const h = Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1)
  return (h ^ (h >>> 15)) & mask
}

export class TimestampCollisions {
  private readonly devices = new Map<string, RecentTimes>()

  constructor(
    private readonly perDevice = 4096,
    private readonly maxDevices = 100_000,
  ) {}

  /** Records (ts, seq) of a device; true when another seq already holds that timestamp. A time
   * that is not a finite number (validation refuses it) is never held: it could not be found again. */
  collides(device: string, ts: number, seq: number): boolean {
    if (!Number.isFinite(ts)) return false
    let recent = this.devices.get(device)
    if (!recent) {
      if (this.devices.size >= this.maxDevices) this.devices.delete(this.devices.keys().next().value!)
      recent = new RecentTimes(this.perDevice)
      this.devices.set(device, recent)
    }
    return recent.collides(ts, seq)
  }

  /** Whether `collides` would say true for any of the first `count` times (seqs `seq`, `seq`+1, …)
   * of a message whose times differ from each other; records nothing. */
  anyCollides(device: string, ts: Float64Array, count: number, seq: number): boolean {
    const recent = this.devices.get(device)
    if (!recent) return false
    for (let i = 0; i < count; i++) if (recent.holdsOther(ts[i]!, seq + i)) return true
    return false
  }
}
