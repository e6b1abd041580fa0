/**
 * Whether the gateway clock can be trusted (REL-12). A Raspberry Pi has no RTC and boots at its last
 * saved time until NTP answers; samples taken then carry `unsync: true` so the backend can flag them
 * instead of filing them under the wrong hour. Injectable so tests decide.
 */
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'

export interface ClockCheck {
  isSynced(now: number): boolean
  /** 'synced' | 'unsynced' | 'unknown' for the status report. */
  describe(now: number): string
}

export interface ClockOptions {
  check: 'auto' | 'timesyncd' | 'off'
  syncedFile: string
  minValidTime: string
  exists?: (path: string) => boolean
}

export function createClockCheck(o: ClockOptions): ClockCheck {
  const exists = o.exists ?? existsSync
  const floor = Date.parse(o.minValidTime)
  const timesyncd = () => o.check === 'timesyncd' || (o.check === 'auto' && exists(dirname(o.syncedFile)))
  const state = (now: number): string => {
    if (o.check === 'off') return 'unknown'
    // A clock before the floor is wrong whatever a daemon says.
    if (now < floor) return 'unsynced'
    // systemd-timesyncd touches this file once it has synchronised (systemd-timesyncd.service(8)).
    if (timesyncd()) return exists(o.syncedFile) ? 'synced' : 'unsynced'
    return 'unknown'
  }
  return {
    isSynced: (now) => state(now) !== 'unsynced',
    describe: state,
  }
}
