/**
 * Deterministic load and generation curves for simulated devices (the fleet simulator and the edge
 * agent's simulator driver use the same ones). Time is always passed in; nothing reads the clock.
 */

import { utcOffsetMs } from './zone-offset.js'

/** Local clock time of an instant in an IANA zone, as fractional hours and day of year. */
export function localTime(
  tsMs: number,
  timeZone: string,
): { hour: number; dayOfYear: number; weekday: number } {
  // The zone's clock read as if it were UTC (whole seconds, as a formatted clock shows them).
  const local = new Date(Math.floor(tsMs / 1000) * 1000 + utcOffsetMs(tsMs, timeZone))
  const year = local.getUTCFullYear()
  const dayStart = Date.UTC(year, local.getUTCMonth(), local.getUTCDate())
  const dayOfYear = Math.floor((dayStart - Date.UTC(year, 0, 1)) / 86_400_000) + 1
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60 + local.getUTCSeconds() / 3600
  return { hour, dayOfYear, weekday: local.getUTCDay() }
}

/** Small repeatable pseudo-noise in [-1, 1] from a seed and a time bucket (no Math.random). */
export function noise(seed: string, bucket: number): number {
  let h = 2166136261
  const s = `${seed}:${bucket}`
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 16777619)
  }
  return ((h >>> 0) / 0xffffffff) * 2 - 1
}

/**
 * Solar output as a fraction of rated power: a sine over the day between sunrise and sunset
 * (near-equatorial default 06:00-18:00, shifted slightly with the season), with passing clouds.
 */
export function solarFraction(tsMs: number, timeZone: string, seed = 'sun', latitudeDeg = -6.3): number {
  const { hour, dayOfYear } = localTime(tsMs, timeZone)
  // Day length varies with latitude and season (a simple declination model).
  const decl = 23.44 * Math.sin(((2 * Math.PI) / 365) * (dayOfYear - 81))
  const latR = (latitudeDeg * Math.PI) / 180
  const declR = (decl * Math.PI) / 180
  const cosH = Math.min(1, Math.max(-1, -Math.tan(latR) * Math.tan(declR)))
  const halfDay = (Math.acos(cosH) * 180) / Math.PI / 15
  const sunrise = 12 - halfDay
  const sunset = 12 + halfDay
  if (hour <= sunrise || hour >= sunset) return 0
  const elevation = Math.sin((Math.PI * (hour - sunrise)) / (sunset - sunrise))
  const cloud = 0.85 + 0.15 * noise(seed, Math.floor(tsMs / 300_000)) // 5-minute cloud cells
  return Math.max(0, Math.min(1, elevation ** 1.2 * cloud))
}

/**
 * Factory load as a fraction of rated power: three 8-hour shifts on weekdays (06-14, 14-22, 22-06)
 * with a lighter night shift, shift-change dips, and a reduced weekend.
 */
export function loadFraction(tsMs: number, timeZone: string, seed = 'load'): number {
  const { hour, weekday } = localTime(tsMs, timeZone)
  const weekend = weekday === 0 || weekday === 6
  let base = hour >= 6 && hour < 22 ? 0.85 : 0.55
  const sinceChange = Math.min(...[6, 14, 22].map((h) => Math.abs(hour - h)))
  if (sinceChange < 0.25) base -= 0.2 // machines stop at shift change
  if (weekend) base *= 0.45
  const jitter = 0.04 * noise(seed, Math.floor(tsMs / 10_000))
  return Math.max(0.05, Math.min(1, base + jitter))
}
