import { describe, expect, it } from 'vitest'
import { MAX_JUMP_CLAIM, MAX_MISSING_PER_DEVICE, SequenceTracker } from './sequence-tracker.js'

describe('SequenceTracker', () => {
  it('sees no gap in consecutive messages of several readings', () => {
    const t = new SequenceTracker()
    expect(t.record('d', 0, 3, 0)).toBe(0)
    expect(t.record('d', 3, 2, 0)).toBe(0)
    expect(t.record('d', 5, 1, 0)).toBe(0)
    expect(t.totalMissing).toBe(0)
  })

  it('opens a hole when live readings overtake a backlog and closes it when the backlog arrives', () => {
    const t = new SequenceTracker()
    t.record('d', 0, 10, 0)
    expect(t.record('d', 50, 1, 0)).toBe(40) // live reading 50 while 10..49 are still in the agent's buffer
    expect(t.record('d', 10, 20, 0)).toBe(-20)
    expect(t.record('d', 30, 20, 0)).toBe(-20)
    expect(t.totalMissing).toBe(0)
    expect(t.get('d')?.holes).toEqual([])
  })

  it('keeps readings the agent dropped as missing, and counts redeliveries', () => {
    const t = new SequenceTracker()
    t.record('d', 0, 5, 0)
    t.record('d', 8, 2, 0) // 5, 6, 7 dropped by a full buffer
    t.record('d', 8, 2, 0) // redelivered
    expect(t.totalMissing).toBe(3)
    expect(t.get('d')?.redeliveries).toBe(1)
  })

  it('starts afresh when an agent restarts its numbering from zero', () => {
    const t = new SequenceTracker()
    t.record('d', 100, 1, 0)
    t.record('d', 120, 1, 0)
    expect(t.totalMissing).toBe(19)
    t.record('d', 0, 1, 0)
    expect(t.totalMissing).toBe(0)
  })

  it('lets one jump claim at most MAX_JUMP_CLAIM missing readings (a gateway cannot add millions)', () => {
    const t = new SequenceTracker()
    t.record('plant-a/d', 0, 1, 0)
    t.record('plant-a/d', 9_999_999, 1, 0) // two messages: ~10 million claimed before
    expect(t.totalMissing).toBe(MAX_JUMP_CLAIM)
    t.record('plant-a/d', 9_999_999 - 10, 5, 0) // the newest numbers of the hole still fill it
    expect(t.totalMissing).toBe(MAX_JUMP_CLAIM - 5)
  })

  it('holds one device at MAX_MISSING_PER_DEVICE and reports the total per plant', () => {
    const t = new SequenceTracker()
    t.record('plant-a/d', 0, 1, 0)
    for (let i = 1; i <= 50; i++) t.record('plant-a/d', i * (MAX_JUMP_CLAIM + 1), 1, 0)
    t.record('plant-b/m', 0, 1, 0)
    t.record('plant-b/m', 11, 1, 0)
    expect(t.get('plant-a/d')?.missing).toBe(MAX_MISSING_PER_DEVICE)
    expect(Object.fromEntries(t.missingByPlant())).toEqual({
      'plant-a': MAX_MISSING_PER_DEVICE,
      'plant-b': 10,
    })
  })
})
