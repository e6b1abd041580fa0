/**
 * Per-device sequence tracking. The agent numbers its readings (a message's `seq` is its first
 * reading's number; its readings are seq, seq+1, …), so a number that never arrives is a reading
 * lost upstream. Live messages can overtake a backlog being drained, so a jump forward opens a
 * hole that later messages may fill: the tracker keeps the open holes per device (bounded) and
 * reports how many readings are missing right now. Redeliveries fill nothing and are counted.
 * The numbers come from the gateway, so what one device can claim is bounded: one jump opens at
 * most MAX_JUMP_CLAIM, one device holds at most MAX_MISSING_PER_DEVICE, and the total is reported
 * per plant, so one gateway cannot inflate an estate-wide figure (docs/SECURITY.md).
 */
export interface DeviceSeen {
  /** One past the highest reading number seen. */
  next: number
  lastSeenMs: number
  /** Open holes as [from, to) ranges, oldest first. */
  holes: [number, number][]
  missing: number
  redeliveries: number
}

const MAX_HOLES = 256
/** A jump this large is an agent that lost its state, not a gap: start counting afresh. */
const RESTART_JUMP = 10_000_000
/** Readings one forward jump may claim as missing (a day of 1 Hz samples); only the newest numbers
 * of a larger gap are tracked, the older ones are given up uncounted. */
export const MAX_JUMP_CLAIM = 86_400
/** Readings one device may have missing at once; the oldest holes are given up beyond it. */
export const MAX_MISSING_PER_DEVICE = 4 * MAX_JUMP_CLAIM

export class SequenceTracker {
  private readonly devices = new Map<string, DeviceSeen>()

  /** Records readings [seq, seq+count); returns the change in missing readings (+ opened, − filled). */
  record(key: string, seq: number, count: number, now: number): number {
    const end = seq + Math.max(1, count)
    const seen = this.devices.get(key)
    if (!seen) {
      this.devices.set(key, { next: end, lastSeenMs: now, holes: [], missing: 0, redeliveries: 0 })
      return 0
    }
    seen.lastSeenMs = now
    const before = seen.missing
    if (seq >= seen.next) {
      if (seq - seen.next > RESTART_JUMP) {
        seen.holes = []
        seen.missing = 0
      } else if (seq > seen.next) {
        const from = Math.max(seen.next, seq - MAX_JUMP_CLAIM)
        seen.holes.push([from, seq])
        seen.missing += seq - from
        if (seen.holes.length > MAX_HOLES) seen.holes.shift() // the oldest stays counted as missing
        this.bound(seen)
      }
      seen.next = end
      return seen.missing - before
    }
    if (seq < seen.next - RESTART_JUMP || (seq === 0 && seen.next > count)) {
      // The agent's numbering restarted (new install, wiped buffer).
      this.devices.set(key, {
        next: end,
        lastSeenMs: now,
        holes: [],
        missing: 0,
        redeliveries: seen.redeliveries,
      })
      return -before
    }
    // Below the high mark: fills a hole (backlog after live) or is a redelivery.
    let filled = 0
    const holes: [number, number][] = []
    for (const [from, to] of seen.holes) {
      const a = Math.max(from, seq)
      const b = Math.min(to, end)
      if (a >= b) {
        holes.push([from, to])
        continue
      }
      filled += b - a
      if (from < a) holes.push([from, a])
      if (b < to) holes.push([b, to])
    }
    seen.holes = holes
    seen.missing -= filled
    if (filled === 0) seen.redeliveries++
    if (end > seen.next) seen.next = end
    return seen.missing - before
  }

  /** Gives up the oldest holes (uncounted) while the device claims more than its share. */
  private bound(seen: DeviceSeen): void {
    while (seen.missing > MAX_MISSING_PER_DEVICE && seen.holes.length > 0) {
      const [from, to] = seen.holes.shift()!
      seen.missing -= to - from
    }
    if (seen.missing > MAX_MISSING_PER_DEVICE) seen.missing = MAX_MISSING_PER_DEVICE
  }

  /** Missing readings per plant (keys are `plant/device`). */
  missingByPlant(): Map<string, number> {
    const byPlant = new Map<string, number>()
    for (const [key, d] of this.devices) {
      const plant = key.slice(0, key.indexOf('/'))
      byPlant.set(plant, (byPlant.get(plant) ?? 0) + d.missing)
    }
    return byPlant
  }

  get(key: string): DeviceSeen | undefined {
    return this.devices.get(key)
  }

  get totalMissing(): number {
    let n = 0
    for (const d of this.devices.values()) n += d.missing
    return n
  }

  entries(): IterableIterator<[string, DeviceSeen]> {
    return this.devices.entries()
  }
}
