import { describe, expect, it } from 'vitest'
import { createClockCheck } from '../src/clock.js'

const NOW = Date.parse('2025-11-23T00:00:00Z')
const base = { syncedFile: '/run/systemd/timesync/synchronized', minValidTime: '2025-01-01' }

describe('clock check', () => {
  it('flags samples while systemd-timesyncd has not synchronised, and trusts it once it has', () => {
    let synced = false
    const exists = (p: string) => p === '/run/systemd/timesync' || (synced && p === base.syncedFile)
    const clock = createClockCheck({ ...base, check: 'auto', exists })
    expect(clock.isSynced(NOW)).toBe(false)
    synced = true
    expect(clock.isSynced(NOW)).toBe(true)
  })

  it('distrusts a clock before the plausibility floor (a Pi without RTC at boot) even without timesyncd', () => {
    const clock = createClockCheck({ ...base, check: 'auto', exists: () => false })
    expect(clock.isSynced(Date.parse('1970-01-01T00:00:10Z'))).toBe(false)
    expect(clock.describe(NOW)).toBe('unknown')
    expect(clock.isSynced(NOW)).toBe(true)
  })

  it('never flags when the check is off', () => {
    expect(createClockCheck({ ...base, check: 'off', exists: () => false }).isSynced(0)).toBe(true)
  })
})
