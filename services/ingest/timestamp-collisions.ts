/**
 * Two different readings of one device with the same timestamp would silently overwrite each other
 * in InfluxDB (a point's identity is its series and time). That happens when a gateway's clock
 * jumps backwards (REL-12). The agent numbers its readings, so a second `seq` at a known timestamp
 * is a collision: the later reading goes to dead letter (kept, with its reason) instead of
 * overwriting. Redeliveries carry the same `seq` and pass. Memory-bounded and per process: after a
 * restart, or beyond `perDevice` recent readings, a collision is not seen (best effort).
 */

/** The recent timestamps of one device: a map for the look-up, a ring for the eviction order
 * (iterating a Map from its oldest entry skips every deleted slot: it was ~8% of ingest CPU). */
interface Recent {
  seqByTs: Map<number, number>
  /** Timestamps in insertion order, grown to `perDevice` and then overwritten oldest first. */
  ring: number[]
  next: number
}

export class TimestampCollisions {
  private readonly devices = new Map<string, Recent>()

  constructor(
    private readonly perDevice = 4096,
    private readonly maxDevices = 100_000,
  ) {}

  /** Records (ts, seq) of a device; true when another seq already holds that timestamp. */
  collides(device: string, ts: number, seq: number): boolean {
    let recent = this.devices.get(device)
    if (!recent) {
      if (this.devices.size >= this.maxDevices) this.devices.delete(this.devices.keys().next().value!)
      recent = { seqByTs: new Map(), ring: [], next: 0 }
      this.devices.set(device, recent)
    }
    const known = recent.seqByTs.get(ts)
    if (known !== undefined) return known !== seq
    if (recent.seqByTs.size >= this.perDevice) recent.seqByTs.delete(recent.ring[recent.next]!) // oldest first
    recent.seqByTs.set(ts, seq)
    recent.ring[recent.next] = ts
    recent.next = (recent.next + 1) % this.perDevice
    return false
  }
}
