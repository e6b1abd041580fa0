import { describe, expect, it } from 'vitest'
import { marketOf } from '../emissions/factors/market-boundaries.js'
import { foldEvents } from './events.js'
import { parseCertificateFile } from './file.js'
import { addMonths, marketProblem, vintageProblem } from './quality.js'
import type { CertificateEvent } from './schema.js'

describe('market boundaries', () => {
  it('maps grid regions, countries and market codes to one market', () => {
    expect(marketOf('ID-JAMALI')).toBe('ID')
    expect(marketOf('ES')).toBe('EU-AIB')
    expect(marketOf('eu-aib')).toBe('EU-AIB')
    expect(marketOf('US-ERCT')).toBe('US-CA')
    expect(marketOf('CA')).toBe('US-CA')
    expect(marketOf('VN')).toBe('VN')
    expect(marketProblem('ID', 'ID-JAMALI')).toBeUndefined()
    expect(marketProblem('FR', 'ES')).toBeUndefined()
    expect(marketProblem('VN', 'ID-JAMALI')?.code).toBe('CERTIFICATE_MARKET_MISMATCH')
  })
})

describe('vintage', () => {
  it('moves dates by calendar months, clamped to the month end', () => {
    expect(addMonths('2026-03-02', -3)).toBe('2025-12-02')
    expect(addMonths('2026-05-31', 3)).toBe('2026-08-31')
    expect(addMonths('2026-11-30', 3)).toBe('2027-02-28')
  })
  it('accepts production within 3 months of the covered days, and an hour within them', () => {
    const c = { from: '2026-01-01', to: '2026-12-31' }
    expect(
      vintageProblem({ ...c, vintage_from: '2025-10-01', vintage_to: '2027-03-31' }, 'UTC'),
    ).toBeUndefined()
    expect(vintageProblem({ ...c, vintage_from: '2025-09-30', vintage_to: '2026-12-31' }, 'UTC')?.code).toBe(
      'CERTIFICATE_VINTAGE',
    )
    expect(vintageProblem({ ...c, vintage_from: '2026-01-01', vintage_to: '2027-04-01' }, 'UTC')?.code).toBe(
      'CERTIFICATE_VINTAGE',
    )
    // 2026-03-01T20:00Z is 03:00 on 2026-03-02 in Jakarta.
    const h = { from: '2026-03-02', to: '2026-03-02', production_hour: '2026-03-01T20:00:00Z' }
    expect(vintageProblem(h, 'Asia/Jakarta')).toBeUndefined()
    expect(vintageProblem(h, 'UTC')?.code).toBe('CERTIFICATE_VINTAGE')
  })
})

describe('event log', () => {
  const base = { actor: 'cli', reason: '', previous: {} }
  const created: CertificateEvent = {
    ...base,
    time: 1,
    certificate: 'A',
    event: 'created',
    values: {
      id: 'A',
      type: 'GO',
      mwh: 1,
      from: '2026-01-01',
      to: '2026-01-31',
      technology: 'wind',
      registry: 'r',
      market: 'ES',
      status: 'active',
    },
  }
  it('derives the state in time order and skips events that do not fit it', () => {
    const s = foldEvents([
      { ...base, time: 4, certificate: 'A', event: 'retired', values: { status: 'retired' } },
      { ...created, time: 5, values: { ...created.values, mwh: 99 } },
      created,
      { ...base, time: 2, certificate: 'A', event: 'retired', values: { status: 'retired' } },
      { ...base, time: 3, certificate: 'A', event: 'allocated', values: { plant: 'p' } },
    ])
    // The retire at 2 met no plant: skipped; the second `created` (a race loser): skipped.
    expect(s.certificates.get('A')).toMatchObject({ mwh: 1, plant: 'p', status: 'retired' })
    expect(s.history.get('A')!.map((e) => e.time)).toEqual([1, 3, 4])
  })
})

describe('certificate files', () => {
  it('reads CSV rows with their line numbers, quoted cells and the retirement columns', () => {
    const rows = parseCertificateFile(
      'x.csv',
      'id,type,mwh,registry,retired_on,beneficiary\n\nA,GO,1.5,"AIB, hub",2026-02-01,"PT ""X"""\r\nB,GO,2,r,,\n',
    )
    expect(rows).toEqual([
      {
        line: 3,
        value: {
          id: 'A',
          type: 'GO',
          mwh: 1.5,
          registry: 'AIB, hub',
          retirement: { date: '2026-02-01', beneficiary: 'PT "X"' },
        },
      },
      { line: 4, value: { id: 'B', type: 'GO', mwh: 2, registry: 'r' } },
    ])
  })
  it('reads JSON arrays with each object’s line, and refuses unknown columns and bad JSON', () => {
    expect(
      parseCertificateFile('x.json', '[\n  {"id": "A"},\n  {\n "id": "B"}\n]').map((r) => r.line),
    ).toEqual([2, 3])
    expect(() => parseCertificateFile('x.csv', 'id,colour\nA,red\n')).toThrow(/unknown column\(s\) colour/)
    expect(() => parseCertificateFile('x.json', '{"id": ')).toThrow(/not valid JSON/)
  })
})
