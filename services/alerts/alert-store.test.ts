import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { AlertEvent } from './alert-state.js'
import { eventTime, fingerprint, notificationId } from './alert-store.js'

const firing: AlertEvent = {
  status: 'firing',
  rule: 'meter-silent',
  kind: 'device_offline',
  subject: 'plant-a/grid-main',
  value: 312,
  threshold: 300,
  summary: 's',
  starts_at: '2026-12-01T03:12:00.000Z',
  ends_at: null,
}
const resolved: AlertEvent = { ...firing, status: 'resolved', ends_at: '2026-12-01T03:20:00.000Z' }

describe('alert identities', () => {
  it('gives one fingerprint to every notification of an alert and one id to every copy of a notification', () => {
    const fp = fingerprint('cikarang', 'meter-silent', 'plant-a/grid-main')
    expect(fp).toMatch(/^[0-9a-f]{16}$/)
    expect(fingerprint('cikarang', 'meter-silent', 'plant-a/grid-pv')).not.toBe(fp)
    expect(fingerprint('other', 'meter-silent', 'plant-a/grid-main')).not.toBe(fp)
    const id = notificationId('cikarang', firing)
    expect(id).toMatch(/^[0-9a-f]{32}$/)
    const later: AlertEvent = { ...firing, value: 999, summary: 'later' }
    expect(notificationId('cikarang', later)).toBe(id)
    expect(notificationId('cikarang', resolved)).not.toBe(id)
    // The next incident of the same alert is another notification.
    expect(notificationId('cikarang', { ...firing, starts_at: '2026-12-02T00:00:00.000Z' })).not.toBe(id)
  })

  it('matches the example notification of docs/ALERTS.md', () => {
    const doc = readFileSync('docs/ALERTS.md', 'utf8')
    const json = /```json\n([\s\S]*?)```/.exec(doc)?.[1]
    const example = JSON.parse(json ?? '{}') as AlertEvent & {
      id: string
      fingerprint: string
      cluster: string
    }
    expect(example.fingerprint).toBe(fingerprint(example.cluster, example.rule, example.subject))
    expect(example.id).toBe(notificationId(example.cluster, example))
  })

  it('stores a resolved event after its firing even when the clock stepped back', () => {
    expect(eventTime(firing)).toBe(Date.parse(firing.starts_at))
    expect(eventTime(resolved)).toBe(Date.parse('2026-12-01T03:20:00.000Z'))
    expect(eventTime({ ...resolved, ends_at: '2026-12-01T03:00:00.000Z' })).toBe(
      Date.parse(firing.starts_at) + 1,
    )
  })
})
