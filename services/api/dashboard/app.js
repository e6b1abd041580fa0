// Kawasan dashboard: plain ES module, no build step. Reads the API with the key kept in
// sessionStorage (given once as ?key=), listens to /api/v1/live/stream with fetch (EventSource
// cannot send an Authorization header), draws with uPlot (global `uPlot`). Every time and date is
// in the cluster's time zone (the rollups' local days), never the browser's.
/* global uPlot */

const KEY_STORE = 'kawasan.key'
const THEME_STORE = 'kawasan.theme'
const RANGE_STORE = 'kawasan.range'
/** Supply into the plant, bottom of the stack first. Fills are opaque so a layer shows its legend colour. */
const SOURCES = [
  { field: 'grid_import', label: 'Grid import', color: '#8b98a5', role: 'grid_import' },
  { field: 'gen_solar_pv', label: 'Solar PV', color: '#f2cc60', role: 'solar_pv' },
  { field: 'gen_wind', label: 'Wind', color: '#79c0ff', role: 'wind' },
  { field: 'gen_biomass', label: 'Biomass', color: '#56d364', role: 'biomass' },
  { field: 'battery_discharge', label: 'Battery discharge', color: '#d2a8ff', role: 'battery_discharge' },
  { field: 'gen_hydrogen_fc', label: 'H₂ fuel cell', color: '#39c5cf', role: 'hydrogen_fc' },
  { field: 'gen_gas_chp', label: 'Gas CHP', color: '#ffa657', role: 'gas_chp' },
  { field: 'gen_diesel_genset', label: 'Diesel genset', color: '#f85149', role: 'diesel_genset' },
]
/** Energy leaving the plant other than consumption: drawn below zero. */
const SINKS = [
  { field: 'grid_export', label: 'Grid export', color: '#1f6feb', role: 'grid_export' },
  { field: 'battery_charge', label: 'Battery charge', color: '#8957e5', role: 'battery_charge' },
]
const GEN_FIELDS = SOURCES.filter((s) => s.field.startsWith('gen_')).map((s) => s.field)
const PERIOD_FIELDS = [
  'consumption_kwh',
  ...[...SOURCES, ...SINKS].map((s) => `${s.field}_kwh`),
  'generation_total_kwh',
  'renewable_consumed_kwh',
  'renewable_market_kwh',
  'cfe_kwh',
  'scope1_kg_co2e',
  'biogenic_co2_kg',
  'scope2_location_kg_co2e',
  'scope2_market_kg_co2e',
  'total_location_kg_co2e',
  'total_market_kg_co2e',
  'samples_expected',
  'samples_received',
  'energy_flows_kwh',
  'estimated_kwh',
]

const $ = (id) => document.getElementById(id)
const state = {
  key: null,
  cluster: null,
  tz: 'UTC',
  plants: [],
  roles: new Set(),
  view: null,
  timers: [],
  charts: [],
  live: null,
  devices: null,
}
// For the browser tests: the charts on the page (uPlot instances).
window.kawasan = state

// ---------- key ----------
function takeKeyFromUrl() {
  const params = new URLSearchParams(location.search)
  const key = params.get('key')
  if (key) {
    sessionStorage.setItem(KEY_STORE, key)
    params.delete('key')
    const q = params.toString()
    history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}${location.hash}`)
  }
  return sessionStorage.getItem(KEY_STORE)
}

function showOnly(id) {
  for (const s of ['key-gate', 'not-found', 'view', 'alerts-view']) $(s).hidden = s !== id
}

function showGate(message) {
  showOnly('key-gate')
  $('key-error').textContent = message || ''
  setLive(false, 'no key')
}

class Unauthorized extends Error {}

async function api(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${state.key}` } })
  if (res.status === 401) throw new Unauthorized('the key was refused (mistyped or revoked)')
  if (!res.ok) {
    let message = `${res.status}`
    try {
      message = (await res.json()).message
    } catch {}
    throw new Error(message)
  }
  return res.json()
}

// ---------- formatting and the cluster's time zone ----------
const fmt = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) || !Number.isFinite(v)
    ? '–'
    : Number(v).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const tonnes = (kg) => (kg === null || kg === undefined ? null : kg / 1000)
const ratio = (num, den, scale = 100) => (den > 0 ? (scale * num) / den : null)
function agoText(s) {
  if (s === null || s === undefined) return 'never'
  if (s < 90) return `${Math.round(s)} s ago`
  if (s < 5400) return `${Math.round(s / 60)} min ago`
  if (s < 172800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

/** Minutes east of UTC of the cluster's zone at `ms`. */
function tzOffsetMin(ms) {
  const name = new Intl.DateTimeFormat('en', { timeZone: state.tz, timeZoneName: 'longOffset' })
    .formatToParts(new Date(ms))
    .find((p) => p.type === 'timeZoneName')?.value
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name ?? '')
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0
}
function startOfLocalDay(date) {
  const utc = Date.parse(`${date}T00:00:00Z`)
  return utc - tzOffsetMin(utc - tzOffsetMin(utc) * 60000) * 60000
}
const addDays = (date, n) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10)
const daysBetween = (a, b) =>
  Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86400000)
function zoneLabel() {
  const off = tzOffsetMin(Date.now())
  const sign = off < 0 ? '−' : '+'
  const a = Math.abs(off)
  return `${state.tz} (UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')})`
}
let hm = null
let dm = null
let dtm = null
const clock = (ms) => hm.format(new Date(ms))
const dayLabel = (date) => dm.format(new Date(`${date}T12:00:00Z`))

function setLive(on, text) {
  $('live-dot').classList.toggle('on', on)
  if (text !== undefined) $('updated').textContent = text
}

// ---------- live rows ----------
function liveValues(row) {
  const values = {}
  for (const s of [...SOURCES, ...SINKS]) values[s.field] = row?.[`${s.field}_kw`] ?? 0
  return values
}
const generationKw = (row) => GEN_FIELDS.reduce((s, f) => s + (row?.[`${f}_kw`] ?? 0), 0)

/** Sum of plant rows (for keys that may not see the cluster total); ratios consumption-weighted. */
function sumRows(rows) {
  if (!rows.length) return null
  const out = {
    plant: 'sum',
    time: rows
      .map((r) => r.time)
      .sort()
      .at(-1),
  }
  for (const k of Object.keys(rows[0])) {
    if (k === 'plant' || k === 'time' || typeof rows[0][k] !== 'number') continue
    out[k] = rows.reduce((s, r) => s + (r[k] ?? 0), 0)
  }
  const c = out.consumption_kw
  for (const k of ['renewable_share_pct', 'carbon_intensity_g_co2e_per_kwh'])
    out[k] = c > 0 ? rows.reduce((s, r) => s + (r[k] ?? 0) * (r.consumption_kw ?? 0), 0) / c : null
  return out
}

/** The live row this view shows: the plant's, the cluster total, or the sum of the key's plants. */
function viewRow(snapshot) {
  const v = state.view
  if (!snapshot || !v) return null
  if (v.plant) return snapshot.plants.find((p) => p.plant === v.plant) ?? null
  return snapshot.cluster_total ?? sumRows(snapshot.plants)
}

// ---------- charts ----------
function chartWidth(el) {
  return Math.max(240, el.clientWidth || el.parentElement.clientWidth - 32)
}
function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim()
}
function axis(extra = {}) {
  return {
    stroke: css('--muted'),
    grid: { stroke: css('--line'), width: 1 },
    ticks: { stroke: css('--line') },
    ...extra,
  }
}
/** An x axis of clock times in the cluster's zone, one line, spaced so labels never touch. */
function timeAxis() {
  return axis({
    space: 70,
    incrs: [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400],
    values: (_u, splits) => splits.map((s) => clock(s * 1000)),
  })
}
function track(plot) {
  state.charts.push(plot)
  return plot
}

/**
 * Power by source stacked above zero, export and battery charge stacked below; each layer an
 * opaque fill down to zero drawn outermost first, so what shows is exactly the layer's colour.
 * The legend shows the latest values when the cursor is not on the chart.
 */
function liveChart(el, ups, downs, height) {
  const layers = [...ups.map((s) => ({ ...s, sign: 1 })), ...downs.map((s) => ({ ...s, sign: -1 }))]
  const raw = layers.map(() => [])
  let xs = []
  const at = (i, idx) => raw[i][idx ?? raw[i].length - 1]
  const order = [...ups.map((_s, i) => i).reverse(), ...downs.map((_s, i) => ups.length + i).reverse()]
  const series = [
    {
      label: 'Time',
      value: (_u, v, _si, idx) =>
        idx == null ? (xs.length ? `${clock(xs.at(-1) * 1000)} (latest)` : '–') : clock(v * 1000),
    },
    ...order.map((i) => ({
      label: layers[i].label,
      stroke: layers[i].color,
      fill: layers[i].color,
      width: 1,
      points: { show: false },
      value: (_u, _v, _si, idx) => (at(i, idx) === undefined ? '–' : `${fmt(at(i, idx), 0)} kW`),
    })),
  ]
  const plot = track(
    new uPlot(
      {
        width: chartWidth(el),
        height,
        series,
        scales: {
          x: { time: true },
          y: { range: (_u, min, max) => [Math.min(0, min * 1.05), Math.max(10, max * 1.05)] },
        },
        axes: [timeAxis(), axis({ size: 64, values: (_u, vals) => vals.map((v) => fmt(v, 0)) })],
        legend: { live: true },
        cursor: { points: { show: false } },
      },
      [[], ...order.map(() => [])],
      el,
    ),
  )
  const draw = () => {
    const up = xs.map(() => 0)
    const down = xs.map(() => 0)
    const stacked = layers.map((l, i) =>
      raw[i].map((v, j) => {
        const acc = l.sign > 0 ? up : down
        acc[j] += l.sign * (v ?? 0)
        return acc[j]
      }),
    )
    plot.setData([xs, ...order.map((i) => stacked[i])])
    plot.setLegend({ idx: null })
  }
  return {
    plot,
    set(rows) {
      xs = rows.map((r) => r.t)
      layers.forEach((l, i) => {
        raw[i] = rows.map((r) => r.values[l.field] ?? 0)
      })
      draw()
    },
    push(row, keepSeconds) {
      if (xs.length && row.t <= xs.at(-1)) return
      xs.push(row.t)
      layers.forEach((l, i) => {
        raw[i].push(row.values[l.field] ?? 0)
      })
      while (xs.length && xs[0] < row.t - keepSeconds) {
        xs.shift()
        for (const r of raw) r.shift()
      }
      draw()
    },
  }
}

function qualityChart(el) {
  const data = [[], [], []]
  const last = (k, idx) => data[k][idx ?? data[k].length - 1]
  const plot = track(
    new uPlot(
      {
        width: chartWidth(el),
        height: 200,
        series: [
          { label: 'Time', value: (_u, v, _si, idx) => (idx == null ? 'latest' : clock(v * 1000)) },
          {
            label: 'Renewable share',
            stroke: '#56d364',
            width: 2,
            scale: 'pct',
            points: { show: false },
            value: (_u, _v, _si, idx) => `${fmt(last(1, idx), 1)} %`,
          },
          {
            label: 'Carbon intensity',
            stroke: '#ffa657',
            width: 2,
            scale: 'g',
            points: { show: false },
            value: (_u, _v, _si, idx) => `${fmt(last(2, idx), 0)} g CO₂e/kWh`,
          },
        ],
        scales: {
          x: { time: true },
          pct: { range: [0, 100] },
          g: { range: (_u, _min, max) => [0, Math.max(100, max * 1.1)] },
        },
        axes: [
          timeAxis(),
          axis({ scale: 'pct', size: 50, values: (_u, vals) => vals.map((v) => `${v} %`) }),
          axis({ scale: 'g', side: 1, size: 60, grid: { show: false } }),
        ],
        cursor: { points: { show: false } },
      },
      [[], [], []],
      el,
    ),
  )
  const setData = () => {
    plot.setData(data)
    plot.setLegend({ idx: null })
  }
  return {
    set(rows) {
      data[0] = rows.map((r) => r.t)
      data[1] = rows.map((r) => r.row.renewable_share_pct ?? null)
      data[2] = rows.map((r) => r.row.carbon_intensity_g_co2e_per_kwh ?? null)
      setData()
    },
    push(point, keepSeconds) {
      if (data[0].length && point.t <= data[0].at(-1)) return
      data[0].push(point.t)
      data[1].push(point.row.renewable_share_pct ?? null)
      data[2].push(point.row.carbon_intensity_g_co2e_per_kwh ?? null)
      while (data[0].length && data[0][0] < point.t - keepSeconds) for (const d of data) d.shift()
      setData()
    },
  }
}

/** Energy per slot (day or hour), stacked by source, with the previous period's total beside it. */
function barsChart(el, sources, slots, cur, prev) {
  const n = slots.length
  const totals = sources.map((s) => cur.reduce((a, r) => a + (r?.[`${s.field}_kwh`] ?? 0), 0))
  const prevTotal = prev.reduce((a, r) => a + (r ? supplyKwh(r) : 0), 0)
  const order = sources.map((_s, i) => i).reverse()
  const stacked = []
  const acc = slots.map(() => 0)
  sources.forEach((s, i) => {
    stacked[i] = slots.map((_d, j) => {
      const v = cur[j]?.[`${s.field}_kwh`]
      if (v === undefined) return null
      acc[j] += v ?? 0
      return acc[j]
    })
  })
  const prevSeries = slots.map((_d, j) => (prev[j] ? supplyKwh(prev[j]) : null))
  const xs = slots.map((_d, j) => j)
  const kwh = (v) => `${fmt(v, 0)} kWh`
  const plot = track(
    new uPlot(
      {
        width: chartWidth(el),
        height: 300,
        series: [
          { label: 'Slot', value: (_u, v, _si, idx) => (idx == null ? 'whole period' : slots[v].label) },
          ...order.map((i) => ({
            label: sources[i].label,
            stroke: sources[i].color,
            fill: sources[i].color,
            width: 0,
            paths: uPlot.paths.bars({ size: [0.42, 48], align: -1 }),
            points: { show: false },
            value: (_u, _v, _si, idx) =>
              kwh(idx == null ? totals[i] : (cur[idx]?.[`${sources[i].field}_kwh`] ?? null)),
          })),
          {
            label: 'Previous period',
            stroke: css('--prev'),
            fill: css('--prev'),
            width: 0,
            paths: uPlot.paths.bars({ size: [0.42, 48], align: 1 }),
            points: { show: false },
            value: (_u, _v, _si, idx) => kwh(idx == null ? prevTotal : prevSeries[idx]),
          },
        ],
        scales: {
          x: { time: false, range: [-0.6, n - 0.4] },
          y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.08)] },
        },
        axes: [
          axis({
            space: 44,
            incrs: [1, 2, 3, 4, 6, 7, 12, 14, 30, 61, 91],
            values: (_u, splits) => splits.map((v) => slots[v]?.tick ?? ''),
          }),
          axis({ size: 70, values: (_u, vals) => vals.map((v) => fmt(v, 0)) }),
        ],
        legend: { live: true },
        cursor: { points: { show: false } },
      },
      [xs, ...order.map((i) => stacked[i]), prevSeries],
      el,
    ),
  )
  plot.setLegend({ idx: null })
  return plot
}

function clearView() {
  for (const t of state.timers) clearInterval(t)
  state.timers = []
  for (const c of state.charts) c.destroy()
  state.charts = []
  state.view = null
}

// ---------- period (range picker) ----------
function loadRange() {
  try {
    const r = JSON.parse(localStorage.getItem(RANGE_STORE) ?? 'null')
    if (r && typeof r.kind === 'string') return r
  } catch {}
  return { kind: '7d' }
}

/** The chosen period and the one before it, as local dates (inclusive) of the cluster. */
function periodOf(range) {
  const today = state.cluster.today
  let from
  let to = today
  let prevFrom
  let prevTo
  if (range.kind === 'today') {
    from = today
    prevFrom = prevTo = state.cluster.yesterday
  } else if (range.kind === '7d' || range.kind === '30d') {
    const n = range.kind === '7d' ? 7 : 30
    from = addDays(today, -(n - 1))
    prevTo = addDays(from, -1)
    prevFrom = addDays(prevTo, -(n - 1))
  } else if (range.kind === 'month') {
    from = `${today.slice(0, 8)}01`
    prevFrom = `${addDays(from, -1).slice(0, 8)}01`
    // The same days of the previous month, so a part month compares with a part month.
    prevTo = addDays(prevFrom, Math.min(daysBetween(from, today), daysBetween(prevFrom, addDays(from, -1))))
  } else if (range.kind === 'year') {
    from = `${today.slice(0, 4)}-01-01`
    prevFrom = `${Number(today.slice(0, 4)) - 1}-01-01`
    prevTo = addDays(prevFrom, Math.min(daysBetween(from, today), daysBetween(prevFrom, addDays(from, -1))))
  } else {
    from = range.from && range.from <= today ? range.from : addDays(today, -6)
    to = range.to && range.to >= from && range.to <= today ? range.to : today
    prevTo = addDays(from, -1)
    prevFrom = addDays(prevTo, -daysBetween(from, to))
  }
  const hourly = from === to
  return { kind: range.kind, from, to, prevFrom, prevTo, resolution: hourly ? '1h' : '1d' }
}

function periodLabel(p) {
  const span = p.from === p.to ? dayLabel(p.from) : `${dayLabel(p.from)} – ${dayLabel(p.to)}`
  const prev =
    p.prevFrom === p.prevTo ? dayLabel(p.prevFrom) : `${dayLabel(p.prevFrom)} – ${dayLabel(p.prevTo)}`
  return `${span}, vs ${prev} · local days, ${zoneLabel()}`
}

/** Rollup rows of the view's scope per window start (ms); tenant keys without totals sum their plants. */
function scopeRows(rows) {
  const v = state.view
  const wanted = v.plant
    ? rows.filter((r) => r.plant === v.plant)
    : state.cluster.cluster_totals_visible
      ? rows.filter((r) => r.plant === '_cluster')
      : rows.filter((r) => r.plant !== '_cluster')
  const byTime = new Map()
  for (const r of wanted) {
    if (!(r.samples_received > 0)) continue // a window without readings is no data, not zero
    const t = Date.parse(r.time)
    const acc = byTime.get(t) ?? { time: t, date: r.date }
    for (const f of PERIOD_FIELDS) acc[f] = (acc[f] ?? 0) + (r[f] ?? 0)
    byTime.set(t, acc)
  }
  return byTime
}

async function fetchRows(resolution, from, to) {
  const v = state.view
  const scope = v.plant
    ? `&plant=${encodeURIComponent(v.plant)}&include_cluster=false`
    : state.cluster.cluster_totals_visible
      ? ''
      : '&include_cluster=false'
  const res = await api(
    `/api/v1/rollups?resolution=${resolution}&from=${from}&to=${to}${scope}&fields=${PERIOD_FIELDS.join(',')}`,
  )
  return scopeRows(res.rows)
}

function slotsOf(p, from, to) {
  if (p.resolution === '1h') {
    const start = startOfLocalDay(from)
    return Array.from({ length: 24 }, (_x, h) => {
      const label = `${String(h).padStart(2, '0')}:00`
      return { key: h, label, tick: label, at: start + h * 3600000 }
    })
  }
  const n = daysBetween(from, to) + 1
  return Array.from({ length: n }, (_x, i) => {
    const date = addDays(from, i)
    return { key: i, label: dayLabel(date), tick: dayLabel(date), date }
  })
}

function sumOf(rows) {
  const out = {}
  for (const f of PERIOD_FIELDS) out[f] = rows.reduce((s, r) => s + (r[f] ?? 0), 0)
  out.windows = rows.length
  return out
}
const supplyKwh = (r) => SOURCES.reduce((s, x) => s + (r[`${x.field}_kwh`] ?? 0), 0)

/** Derived figures of a period, the ratios from the sums (never an average of ratios). */
function figures(t) {
  const c = t.consumption_kwh
  return {
    consumption_kwh: t.windows ? c : null,
    generation_total_kwh: t.windows ? t.generation_total_kwh : null,
    grid_import_kwh: t.windows ? t.grid_import_kwh : null,
    grid_export_kwh: t.windows ? t.grid_export_kwh : null,
    renewable_location_pct: ratio(t.renewable_consumed_kwh, c),
    renewable_market_pct: ratio(t.renewable_market_kwh, c),
    cfe_hourly_pct: ratio(t.cfe_kwh, c),
    intensity_location: ratio(t.total_location_kg_co2e, c, 1000),
    intensity_market: ratio(t.total_market_kg_co2e, c, 1000),
    scope1_t: t.windows ? t.scope1_kg_co2e / 1000 : null,
    scope2_location_t: t.windows ? t.scope2_location_kg_co2e / 1000 : null,
    scope2_market_t: t.windows ? t.scope2_market_kg_co2e / 1000 : null,
    biogenic_t: t.windows ? t.biogenic_co2_kg / 1000 : null,
    coverage_pct: ratio(t.samples_received, t.samples_expected),
    estimated_pct: t.windows ? (ratio(t.estimated_kwh, t.energy_flows_kwh) ?? 0) : null,
  }
}

const CARBON_ROWS = [
  ['consumption_kwh', 'Consumption', 'kWh', 0, 'sum'],
  ['generation_total_kwh', 'On-site generation', 'kWh', 0, 'sum'],
  ['grid_import_kwh', 'Grid import', 'kWh', 0, 'sum'],
  ['grid_export_kwh', 'Grid export', 'kWh', 0, 'sum'],
  ['renewable_location_pct', 'Renewable share, location-based', '%', 1, 'pct'],
  ['renewable_market_pct', 'Renewable share, market-based', '%', 1, 'pct'],
  ['cfe_hourly_pct', 'Hourly carbon-free energy (CFE)', '%', 1, 'pct'],
  ['intensity_location', 'Carbon intensity, location-based', 'g CO₂e/kWh', 0, 'sum'],
  ['intensity_market', 'Carbon intensity, market-based', 'g CO₂e/kWh', 0, 'sum'],
  ['scope1_t', 'Scope 1 (fuels burnt on site)', 't CO₂e', 2, 'sum'],
  ['scope2_location_t', 'Scope 2, location-based', 't CO₂e', 2, 'sum'],
  ['scope2_market_t', 'Scope 2, market-based', 't CO₂e', 2, 'sum'],
  ['biogenic_t', 'Biogenic CO₂ (reported apart from the scopes)', 't CO₂', 2, 'sum'],
  ['coverage_pct', 'Coverage (readings received / expected)', '%', 1, 'pct'],
  ['estimated_pct', 'Estimated share of the energy flows', '%', 1, 'pct'],
]

function change(cur, prev, kind) {
  if (cur === null || prev === null) return '–'
  if (kind === 'pct') {
    const d = cur - prev
    return `${d >= 0 ? '+' : '−'}${fmt(Math.abs(d), 1)} pp`
  }
  if (!(prev > 0)) return '–'
  const pct = ((cur - prev) / prev) * 100
  return `${pct >= 0 ? '+' : '−'}${fmt(Math.abs(pct), 0)} %`
}

function cell(tr, text, attrs = {}) {
  const td = document.createElement(attrs.th ? 'th' : 'td')
  if (attrs.th) td.scope = 'row'
  td.textContent = text
  if (attrs.cls) td.className = attrs.cls
  if (attrs.field) td.dataset.field = attrs.field
  tr.append(td)
  return td
}

async function loadPeriod(view) {
  const p = periodOf(view.range)
  // Only the newest load draws: a slower answer for the range shown before (or an older refresh)
  // must not overwrite the range just picked.
  view.periodSeq = (view.periodSeq ?? 0) + 1
  const seq = view.periodSeq
  const stale = () => state.view !== view || view.periodSeq !== seq
  const [cur, prev] = await Promise.all([
    fetchRows(p.resolution, p.from, p.to),
    fetchRows(p.resolution, p.prevFrom, p.prevTo),
  ])
  if (stale()) return
  const slots = slotsOf(p, p.from, p.to)
  const prevSlots = slotsOf(p, p.prevFrom, p.prevTo)
  const pick = (byTime, list, i) =>
    p.resolution === '1h'
      ? byTime.get(list[i].at)
      : [...byTime.values()].find((r) => r.date === list[i]?.date)
  const curRows = slots.map((_s, i) => pick(cur, slots, i))
  const prevRows = slots.map((_s, i) => (prevSlots[i] ? pick(prev, prevSlots, i) : undefined))
  // Like with like: today is still open, so its counterpart counts only up to the same local time
  // (from that day's hourly rollups); slots without data now are left out of the previous period.
  const last = slots.length - 1
  if (p.resolution === '1d' && slots[last]?.date === state.cluster.today && prevSlots[last]) {
    const hours = await fetchRows('1h', prevSlots[last].date, prevSlots[last].date)
    if (stale()) return
    prevRows[last] = soFar(hours, prevSlots[last].date)
  }
  const matched = prevRows.filter((r, i) => r && curRows[i])
  const t = sumOf([...cur.values()])
  const tp = sumOf(matched)
  view.period = { p, total: t, prevTotal: tp }
  const f = figures(t)
  const fp = figures(tp)
  const quality = t.windows
    ? ` · coverage ${fmt(f.coverage_pct, 1)} %, estimated ${fmt(f.estimated_pct, 1)} %`
    : ' · no rollups yet'
  for (const el of document.querySelectorAll('.period-sub')) el.textContent = periodLabel(p) + quality
  $('range-label').textContent = zoneLabel()

  // Carbon table
  const tbody = $('carbon-table').querySelector('tbody')
  tbody.replaceChildren(
    ...CARBON_ROWS.map(([k, label, unit, digits, kind]) => {
      const tr = document.createElement('tr')
      tr.dataset.figure = k
      cell(tr, `${label}, ${unit}`, { th: true })
      cell(tr, fmt(f[k], digits), { field: 'current' })
      cell(tr, fmt(fp[k], digits), { field: 'previous' })
      cell(tr, change(f[k], fp[k], kind))
      return tr
    }),
  )

  // Bars
  const roles = view.roles
  const sources = SOURCES.filter((s) => roles.has(s.role) || t[`${s.field}_kwh`] > 0)
  const bars = state.charts.indexOf(view.bars)
  if (bars >= 0) {
    view.bars.destroy()
    state.charts.splice(bars, 1)
  }
  $('chart-bars').replaceChildren()
  $('bars-empty').hidden = t.windows > 0
  view.bars = barsChart(
    $('chart-bars'),
    sources.length ? sources : SOURCES.slice(0, 1),
    slots,
    curRows,
    prevRows,
  )
  renderFlow(view)
}

/** Sources → plant → export and battery: kW live and kWh over the period, as text (screen readers read it). */
function renderFlow(view) {
  const live = viewRow(state.live)
  const t = view.period?.total
  const node = (s, kwh, kw) => {
    const li = document.createElement('li')
    li.style.setProperty('--c', s.color)
    li.dataset.flow = s.field
    const name = document.createElement('span')
    name.className = 'name'
    name.textContent = s.label
    const now = document.createElement('span')
    now.className = 'kw'
    now.textContent = `${fmt(kw, 0)} kW`
    const sum = document.createElement('span')
    sum.className = 'kwh'
    sum.textContent = `${fmt(kwh, 0)} kWh`
    li.append(name, now, sum)
    return li
  }
  const sources = SOURCES.filter((s) => view.roles.has(s.role) || (t?.[`${s.field}_kwh`] ?? 0) > 0)
  const sinks = SINKS.filter((s) => view.roles.has(s.role) || (t?.[`${s.field}_kwh`] ?? 0) > 0)
  const inList = document.createElement('ul')
  inList.className = 'flow-in'
  inList.setAttribute('aria-label', 'Into the plant')
  inList.append(
    ...sources.map((s) => node(s, t?.windows ? t[`${s.field}_kwh`] : null, live?.[`${s.field}_kw`] ?? null)),
  )
  const hub = document.createElement('div')
  hub.className = 'flow-hub'
  hub.dataset.flow = 'consumption'
  hub.innerHTML = '<span class="name"></span><span class="kw"></span><span class="kwh"></span>'
  hub.querySelector('.name').textContent = view.plant ? `${view.plant} consumption` : 'Consumption'
  hub.querySelector('.kw').textContent = `${fmt(live?.consumption_kw, 0)} kW`
  hub.querySelector('.kwh').textContent = `${fmt(t?.windows ? t.consumption_kwh : null, 0)} kWh`
  const outList = document.createElement('ul')
  outList.className = 'flow-out'
  outList.setAttribute('aria-label', 'Out of the plant')
  outList.append(
    ...sinks.map((s) => node(s, t?.windows ? t[`${s.field}_kwh`] : null, live?.[`${s.field}_kw`] ?? null)),
  )
  $('flow').replaceChildren(inList, hub, outList)
}

// ---------- today vs an earlier day up to the same time ----------
/** A day's hourly rows summed up to the local clock time it is now (the hour in progress pro rata). */
function soFar(hourRows, date) {
  const cutoff = startOfLocalDay(date) + (Date.now() - startOfLocalDay(state.cluster.today))
  const out = {}
  let hours = 0
  for (const r of hourRows.values()) {
    const part = Math.max(0, Math.min(1, (cutoff - r.time) / 3600000))
    if (part <= 0) continue
    hours++
    for (const f of PERIOD_FIELDS) out[f] = (out[f] ?? 0) + part * (r[f] ?? 0)
  }
  return hours ? out : undefined
}

async function refreshCompare(view) {
  const c = state.cluster
  const rows = await fetchRows('1h', c.yesterday, c.yesterday)
  if (state.view !== view) return
  // Today so far is compared with yesterday up to the same local clock time.
  const y = soFar(rows, c.yesterday)
  view.yesterdaySoFarKg = y ? y.scope1_kg_co2e + y.scope2_location_kg_co2e : null
  renderCompare(view)
}

function renderCompare(view) {
  const el = $('kpi-compare')
  const row = viewRow(state.live)
  const today = row ? (row.today_scope1_kg_co2e ?? 0) + (row.today_scope2_location_kg_co2e ?? 0) : null
  if (view.yesterdaySoFarKg === null || view.yesterdaySoFarKg === undefined) {
    el.textContent = 'no hourly data for yesterday yet'
    el.className = 'sub'
    return
  }
  const y = view.yesterdaySoFarKg
  const at = clock(Date.now())
  let text = `yesterday to ${at}: ${fmt(tonnes(y), 2)} t`
  el.className = 'sub'
  if (today !== null && y > 0) {
    const pct = ((today - y) / y) * 100
    text += ` · ${pct >= 0 ? '+' : '−'}${fmt(Math.abs(pct), 0)} %`
    el.className = `sub ${pct >= 0 ? 'up' : 'down'}`
  }
  el.textContent = text
}

// ---------- devices: one status, from GET /devices, wherever it is shown ----------
async function refreshDevices(view) {
  const [res, dead] = await Promise.all([
    api('/api/v1/devices'),
    view.plant
      ? api(`/api/v1/dead-letters/by-device?plant=${encodeURIComponent(view.plant)}&hours=24`)
      : Promise.resolve(null),
  ])
  if (state.view !== view) return
  state.devices = { list: res.devices, at: Date.now() }
  view.deadByDevice = new Map()
  for (const c of dead?.counts ?? [])
    view.deadByDevice.set(c.device, (view.deadByDevice.get(c.device) ?? 0) + c.count)
  renderDevices(view)
}

function statusText(d) {
  if (d.online) return 'online'
  if (d.agent_state === 'offline') return 'offline (agent reports offline)'
  if (d.seconds_since_seen === null) return 'offline (no reading yet)'
  return 'offline (no recent reading)'
}

function renderDevices(view) {
  const all = state.devices?.list
  if (!all) return
  const mine = view.plant ? all.filter((d) => d.plant === view.plant) : all
  $('kpi-devices').textContent = `${mine.filter((d) => d.online).length} / ${mine.length}`
  for (const tr of $('plant-table').querySelectorAll('tbody tr')) {
    const list = all.filter((d) => d.plant === tr.dataset.plant)
    const td = tr.querySelector('[data-field="devices"]')
    if (td) td.textContent = `${list.filter((d) => d.online).length} / ${list.length}`
  }
  if (!view.plant) return
  // "Last seen" counts on from the same response that decided "online", so the two never disagree.
  const elapsed = (Date.now() - state.devices.at) / 1000
  $('device-table')
    .querySelector('tbody')
    .replaceChildren(
      ...mine.map((d) => {
        const tr = document.createElement('tr')
        tr.dataset.device = d.id
        cell(tr, d.name ? `${d.id} (${d.name})` : d.id, { th: true })
        const st = cell(tr, `● ${statusText(d)}`, { cls: d.online ? 'online' : 'offline', field: 'status' })
        st.dataset.online = String(d.online)
        cell(tr, d.seconds_since_seen === null ? 'never' : agoText(d.seconds_since_seen + elapsed), {
          field: 'last-seen',
        })
        cell(tr, d.role.replace(/_/g, ' '))
        cell(tr, fmt(view.deadByDevice?.get(d.id) ?? 0), { field: 'dead-letters' })
        cell(tr, fmt(d.sequence_gaps))
        cell(tr, fmt(d.missing_readings))
        cell(tr, d.buffer_depth === null ? '–' : fmt(d.buffer_depth), { field: 'buffer' })
        return tr
      }),
    )
}

// ---------- views ----------
async function showView(plantId) {
  clearView()
  const plant = plantId ? state.plants.find((p) => p.id === plantId) : null
  if (plantId && !plant) {
    showOnly('not-found')
    $('not-found-text').textContent =
      `There is no plant "${plantId}" for this key. Pick one of: ${state.plants.map((p) => p.id).join(', ') || 'none'}.`
    document.title = `Kawasan · unknown plant`
    return
  }
  showOnly('view')
  const view = { plant: plantId ?? null, range: loadRange(), roles: state.roles, bars: null }
  state.view = view
  $('view-title').textContent = plant ? `${plant.name} (${plant.id})` : `${state.cluster.name}: all plants`
  document.title = `Kawasan · ${plant ? plant.id : state.cluster.name}`
  $('plants-panel').hidden = Boolean(plant)
  $('devices-panel').hidden = !plant
  $('scope-note').textContent =
    plant || state.cluster.cluster_totals_visible
      ? ''
      : `Totals are the sum of your ${state.plants.length === 1 ? 'plant' : 'plants'} only.`
  $('range').value = view.range.kind
  $('custom-range').hidden = view.range.kind !== 'custom'
  if (plant) {
    const detail = await api(`/api/v1/plants/${encodeURIComponent(plant.id)}`)
    view.roles = new Set(detail.devices.map((d) => d.role))
  }
  if (state.view !== view) return
  const ups = SOURCES.filter((s) => view.roles.has(s.role))
  const downs = SINKS.filter((s) => view.roles.has(s.role))
  $('live-sub').textContent = `kW, last hour, live · ${zoneLabel()}`
  view.live = liveChart($('chart-live'), ups.length ? ups : SOURCES.slice(0, 1), downs, 300)
  view.quality = qualityChart($('chart-quality'))
  const q = view.plant ? `&plant=${encodeURIComponent(view.plant)}&include_cluster=false` : ''
  const history = await api(`/api/v1/live/history?minutes=60&step_s=30${q}`)
  if (state.view !== view) return
  const rows = historyRows(history.series, view.plant)
  view.live.set(rows)
  view.quality.set(rows)
  if (state.live) renderLive(state.live, false)
  await Promise.all([loadPeriod(view), refreshDevices(view), refreshCompare(view), loadTargets(view)])
  state.timers.push(setInterval(() => void refreshDevices(view).catch(() => {}), 10000))
  // Rollups change once a minute at most; the wall display refreshes them without a reload.
  state.timers.push(setInterval(() => void loadPeriod(view).catch(() => {}), 60000))
  state.timers.push(setInterval(() => void refreshCompare(view).catch(() => {}), 300000))
  // Targets count closed days: they change once a day.
  state.timers.push(setInterval(() => void loadTargets(view).catch(() => {}), 900000))
}

// ---------- targets: path against actual (docs/TARGETS.md) ----------
const signed = (v, digits) => (v === null || v === undefined ? '–' : `${v > 0 ? '+' : ''}${fmt(v, digits)}`)

async function loadTargets(view) {
  const res = await api('/api/v1/targets')
  if (state.view !== view) return
  // A plant view shows the targets whose boundary holds the plant (its own, its tenant's, the cluster's).
  const list = res.targets.filter((t) => !view.plant || t.plants.includes(view.plant))
  $('targets-sub').textContent = `t CO₂e, closed days to ${res.as_of} (${res.timezone})`
  $('targets-empty').hidden = list.length > 0
  const box = $('targets')
  for (const c of view.targetCharts ?? []) {
    c.destroy()
    state.charts = state.charts.filter((x) => x !== c)
  }
  view.targetCharts = []
  box.replaceChildren(...list.map((t) => targetCard(t)))
  for (const t of list)
    view.targetCharts.push(trajectoryChart(box.querySelector(`[data-target="${t.id}"] .chart`), t))
}

function trackText(t) {
  if (t.on_track === null) return ['no base-year emissions', '']
  return t.on_track ? ['on track', 'online'] : ['off track', 'offline']
}

function targetCard(t) {
  const card = document.createElement('article')
  card.className = 'target'
  card.dataset.target = t.id
  const h = document.createElement('h3')
  h.id = `target-${t.id}`
  card.setAttribute('aria-labelledby', h.id)
  h.textContent = `${t.name ?? t.id} `
  const [label, cls] = trackText(t)
  const badge = document.createElement('span')
  badge.className = `badge ${cls}`
  badge.dataset.field = 'on-track'
  badge.textContent = label
  h.append(badge)
  const what = document.createElement('p')
  what.className = 'muted small'
  const of = t.level === 'cluster' ? 'the cluster' : `${t.level} ${t.of}`
  const path =
    t.path === 'linear'
      ? `linear to −${fmt(t.reduction_pct, 0)} %`
      : '1.5 °C path (−4.2 % of the base a year)'
  what.textContent = `${of}, ${t.scopes.join(' + ').replace(/scope/g, 'Scope ')} (${t.scope2_method}-based), ${path} by ${t.target_year}; base ${t.base.year}: ${fmt(t.base.t_co2e, 1)} t (${t.base.source})`
  const wrap = document.createElement('div')
  wrap.className = 'scroll'
  wrap.tabIndex = 0
  wrap.setAttribute('role', 'region')
  wrap.setAttribute('aria-label', `${t.name ?? t.id}: progress table`)
  const table = document.createElement('table')
  const head = document.createElement('tr')
  for (const c of ['Period', 'Actual t', 'Path allows t', 'Gap t']) {
    const th = document.createElement('th')
    th.scope = 'col'
    th.textContent = c
    head.append(th)
  }
  const thead = document.createElement('thead')
  thead.append(head)
  const tbody = document.createElement('tbody')
  const rows = [
    ['ytd', `Year to date (from ${t.year_to_date.from})`, t.year_to_date],
    ['r12m', 'Rolling 12 months', t.rolling_12_months],
    [
      'year-end',
      `${t.as_of.slice(0, 4)} projected`,
      {
        actual_t_co2e: t.projection.year_end_t_co2e,
        allowed_t_co2e: t.projection.year_end_allowed_t_co2e,
        gap_t_co2e: t.projection.year_end_gap_t_co2e,
      },
    ],
    [
      'target-year',
      `${t.target_year} projected (${t.projection.method ?? '–'})`,
      {
        actual_t_co2e: t.projection.target_year_t_co2e,
        allowed_t_co2e: t.target_year_allowed_t_co2e,
        gap_t_co2e: t.projection.target_year_gap_t_co2e,
      },
    ],
  ]
  for (const [key, name, f] of rows) {
    const tr = document.createElement('tr')
    tr.dataset.period = key
    cell(tr, name, { th: true })
    cell(tr, fmt(f.actual_t_co2e, 1), { field: 'actual' })
    cell(tr, fmt(f.allowed_t_co2e, 1), { field: 'allowed' })
    const gap = cell(tr, signed(f.gap_t_co2e, 1), { field: 'gap' })
    if (f.gap_t_co2e > 0) gap.className = 'up'
    tbody.append(tr)
  }
  table.append(thead, tbody)
  wrap.append(table)
  const notes = document.createElement('p')
  notes.className = 'muted small'
  notes.dataset.field = 'flags'
  const r = t.rolling_12_months
  notes.textContent =
    `Rolling 12 months: ${fmt(r.days_with_data)} of ${fmt(r.days ?? r.days_with_data)} days stored.` +
    (t.flags.length
      ? ` Flags: ${t.flags.join(', ').replace(/_/g, ' ')} (a missing day counts as unknown, so the actual is a floor).`
      : '')
  const chart = document.createElement('div')
  chart.className = 'chart trajectory'
  chart.setAttribute('role', 'img')
  chart.setAttribute(
    'aria-label',
    `${t.name ?? t.id}: path and actual emissions per year, ${t.base.year} to ${t.target_year}; the figures are in the legend below`,
  )
  card.append(h, what, wrap, notes, chart)
  return card
}

/** Allowed (the path) and stored emissions per year; the current year is partial (to as_of). */
function trajectoryChart(el, t) {
  const years = t.trajectory.map((y) => y.year)
  const allowed = t.trajectory.map((y) => y.allowed_t_co2e)
  const actual = t.trajectory.map((y) => y.actual_t_co2e)
  const last = Math.max(
    0,
    actual.findLastIndex((v) => v !== null),
  )
  const tv = (arr, partial) => (_u, _v, _si, idx) => {
    const i = idx ?? last
    if (arr[i] === null || arr[i] === undefined) return '–'
    return `${fmt(arr[i], 1)} t${partial && t.trajectory[i]?.partial ? ' (to date)' : ''}`
  }
  const plot = track(
    new uPlot(
      {
        width: chartWidth(el),
        height: 200,
        series: [
          { label: 'Year', value: (_u, _v, _si, idx) => String(years[idx ?? last] ?? '–') },
          {
            label: 'Path allows',
            stroke: css('--muted'),
            width: 2,
            dash: [6, 4],
            points: { show: false },
            value: tv(allowed, false),
          },
          {
            label: 'Actual',
            stroke: css('--accent'),
            width: 2,
            points: { show: true, size: 6 },
            value: tv(actual, true),
          },
        ],
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.08)] } },
        axes: [
          axis({ space: 44, incrs: [1, 2, 5, 10], values: (_u, splits) => splits.map((v) => String(v)) }),
          axis({ size: 64, values: (_u, vals) => vals.map((v) => fmt(v, 0)) }),
        ],
        legend: { live: true },
        cursor: { points: { show: false } },
      },
      [years, allowed, actual],
      el,
    ),
  )
  plot.setLegend({ idx: null })
  return plot
}

// ---------- alerts (GET /alerts: the alerts part's state, in memory) ----------
async function showAlerts() {
  clearView()
  showOnly('alerts-view')
  const view = { alerts: true }
  state.view = view
  document.title = 'Kawasan · alerts'
  await refreshAlerts(view)
  state.timers.push(setInterval(() => void refreshAlerts(view).catch(() => {}), 10000))
}

async function refreshAlerts(view) {
  const res = await api('/api/v1/alerts')
  if (state.view !== view) return
  $('alerts-status').textContent = res.enabled
    ? `Rules last evaluated ${res.evaluated_at ? `at ${dtm.format(new Date(res.evaluated_at))} (${state.tz})` : 'not yet'}. Times in ${state.tz}.`
    : 'In-app alerts are disabled: no alerts part has evaluated rules for this estate (config alerts.enabled in kawasan start or kawasan rollup run; docs/ALERTS.md). Operational alerts come from the Prometheus rules.'
  const row = (a, resolved) => {
    const tr = document.createElement('tr')
    tr.dataset.rule = a.rule
    tr.dataset.subject = a.subject
    const th = cell(tr, '', { th: true })
    const strong = document.createElement('span')
    strong.className = resolved ? 'online' : 'offline'
    strong.textContent = `● ${a.rule}`
    th.append(strong, ` ${a.kind.replace(/_/g, ' ')}`)
    th.title = a.summary
    cell(tr, a.subject, { field: 'subject' })
    cell(tr, fmt(a.value, a.kind === 'off_track' ? 1 : 0), { field: 'value' })
    cell(tr, fmt(a.threshold, 0), { field: 'threshold' })
    cell(tr, dtm.format(new Date(a.starts_at)), { field: 'starts' })
    if (resolved) cell(tr, dtm.format(new Date(a.ends_at)), { field: 'ends' })
    return tr
  }
  $('alerts-active')
    .querySelector('tbody')
    .replaceChildren(...res.active.map((a) => row(a, false)))
  $('alerts-resolved')
    .querySelector('tbody')
    .replaceChildren(...res.resolved.map((a) => row(a, true)))
  $('alerts-active-count').textContent = res.enabled ? `${res.active.length}` : 'disabled'
  $('alerts-active-empty').hidden = !res.enabled || res.active.length > 0
  $('alerts-resolved-empty').hidden = !res.enabled || res.resolved.length > 0
}

/** Rows of the view (plant, cluster total or sum of the key's plants) per time step. */
function historyRows(series, plant) {
  const asPoint = (t, row) => ({ t: Date.parse(t) / 1000, values: liveValues(row), row })
  if (plant) return (series.find((s) => s.plant === plant)?.rows ?? []).map((r) => asPoint(r.time, r))
  const total = series.find((s) => s.plant === '_cluster')
  if (state.cluster.cluster_totals_visible && total) return total.rows.map((r) => asPoint(r.time, r))
  const byTime = new Map()
  for (const s of series) {
    if (s.plant === '_cluster') continue
    for (const r of s.rows) byTime.set(r.time, [...(byTime.get(r.time) ?? []), r])
  }
  return [...byTime.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([t, list]) => asPoint(t, sumRows(list)))
}

function renderLive(snapshot, append) {
  const view = state.view
  if (!view || view.alerts) return
  const row = viewRow(snapshot)
  if (!row) return
  $('kpi-consumption').textContent = fmt(row.consumption_kw, 0)
  $('kpi-generation').textContent = fmt(generationKw(row), 0)
  $('kpi-renewable').textContent = fmt(row.renewable_share_pct, 1)
  $('kpi-intensity').textContent = fmt(row.carbon_intensity_g_co2e_per_kwh, 0)
  const todayKg = (row.today_scope1_kg_co2e ?? 0) + (row.today_scope2_location_kg_co2e ?? 0)
  $('kpi-today').textContent = fmt(tonnes(todayKg), 2)
  renderCompare(view)
  if (!view.plant) renderPlantTable(snapshot)
  if (view.period) renderFlow(view)
  if (append && view.live) {
    const point = { t: Date.parse(row.time) / 1000, values: liveValues(row), row }
    view.live.push(point, 3600)
    view.quality.push(point, 3600)
  }
}

function renderPlantTable(snapshot) {
  const names = new Map(state.plants.map((p) => [p.id, p.name]))
  $('plant-table')
    .querySelector('tbody')
    .replaceChildren(
      ...snapshot.plants.map((r) => {
        const tr = document.createElement('tr')
        tr.dataset.plant = r.plant
        const th = cell(tr, '', { th: true })
        const a = document.createElement('a')
        a.href = `#plant/${r.plant}`
        a.textContent = names.get(r.plant) ?? r.plant
        th.append(a)
        cell(tr, fmt(r.consumption_kw, 0), { field: 'consumption' })
        cell(tr, fmt(r.grid_import_kw, 0), { field: 'grid' })
        cell(tr, fmt(generationKw(r), 0), { field: 'generation' })
        cell(tr, fmt(r.renewable_share_pct, 1), { field: 'renewable' })
        cell(tr, fmt(r.carbon_intensity_g_co2e_per_kwh, 0), { field: 'intensity' })
        cell(tr, fmt(tonnes((r.today_scope1_kg_co2e ?? 0) + (r.today_scope2_location_kg_co2e ?? 0)), 2))
        cell(tr, '–', { field: 'devices' })
        tr.addEventListener('click', (e) => {
          if (e.target.tagName !== 'A') location.hash = `#plant/${r.plant}`
        })
        return tr
      }),
    )
  if (state.view) renderDevices(state.view)
}

// ---------- live stream ----------
function onLive(snapshot) {
  state.live = snapshot
  setLive(true, snapshot.updated ? `live · ${clock(Date.parse(snapshot.updated))}` : 'live')
  renderLive(snapshot, true)
}

async function streamLive() {
  for (;;) {
    try {
      const res = await fetch('/api/v1/live/stream', { headers: { authorization: `Bearer ${state.key}` } })
      if (res.status === 401) {
        showGate('the key was refused (mistyped or revoked)')
        return
      }
      if (res.ok && res.body) {
        setLive(true)
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let end = buffer.indexOf('\n\n')
          while (end >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n')
            if (/^event: live$/m.test(block) && data) onLive(JSON.parse(data))
            end = buffer.indexOf('\n\n')
          }
        }
      }
    } catch {
      // network drop: retry below
    }
    setLive(false, 'reconnecting…')
    await new Promise((r) => setTimeout(r, 3000))
  }
}

// ---------- theme ----------
const THEMES = ['auto', 'dark', 'light']
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
  $('theme').setAttribute('aria-label', `Colour theme: ${theme === 'auto' ? 'automatic' : theme}`)
  $('theme').title = `Colour theme: ${theme === 'auto' ? 'automatic' : theme} (click to change)`
}

// ---------- start ----------
function route() {
  const hash = decodeURIComponent(location.hash)
  const m = /^#plant\/(.+)$/.exec(hash)
  const known = hash === '' || hash === '#' || m
  for (const a of $('nav').querySelectorAll('a')) {
    const active = a.getAttribute('href') === (hash || '#')
    a.classList.toggle('active', active)
    if (active) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  const shown =
    hash === '#alerts' ? showAlerts() : known ? showView(m ? m[1] : null) : showView(hash.slice(1) || null)
  shown.catch(handleError)
}

function handleError(err) {
  if (err instanceof Unauthorized) showGate(err.message)
  else $('updated').textContent = `error: ${err.message}`
}

async function start() {
  const params = new URLSearchParams(location.search)
  const wall = params.get('wall') === '1'
  document.body.classList.toggle('wall', wall)
  applyTheme(wall ? 'dark' : (localStorage.getItem(THEME_STORE) ?? 'auto'))
  state.key = takeKeyFromUrl()
  if (!state.key) {
    showGate()
    return
  }
  $('key-gate').hidden = true
  const [clusters, plants, devices] = await Promise.all([
    api('/api/v1/clusters'),
    api('/api/v1/plants'),
    api('/api/v1/devices'),
  ])
  state.cluster = clusters.clusters[0]
  state.tz = state.cluster.timezone
  hm = new Intl.DateTimeFormat('en-GB', { timeZone: state.tz, hour: '2-digit', minute: '2-digit' })
  dm = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' })
  dtm = new Intl.DateTimeFormat('en-GB', {
    timeZone: state.tz,
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  })
  state.plants = plants.plants
  state.roles = new Set(devices.devices.map((d) => d.role))
  $('cluster-name').textContent = state.cluster.name
  const links = [
    ['#', 'Overview'],
    ...state.plants.map((p) => [`#plant/${p.id}`, p.id]),
    ['#alerts', 'Alerts'],
  ]
  $('nav').replaceChildren(
    ...links.map(([href, text]) => {
      const a = document.createElement('a')
      a.href = href
      a.textContent = text
      return a
    }),
  )
  window.addEventListener('hashchange', route)
  window.addEventListener('resize', () => {
    for (const c of state.charts) c.setSize({ width: chartWidth(c.root.parentElement), height: c.height })
  })
  route()
  void streamLive()
  // A wall display runs for days: reload once a day after local midnight for a fresh "today".
  if (wall) setInterval(() => location.reload(), 6 * 3600 * 1000)
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const key = $('key-input').value.trim()
  if (!key) return
  sessionStorage.setItem(KEY_STORE, key)
  location.reload()
})
$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE)
  location.reload()
})
$('theme').addEventListener('click', () => {
  const now = document.documentElement.dataset.theme ?? 'auto'
  const next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length]
  localStorage.setItem(THEME_STORE, next)
  applyTheme(next)
  if (state.view) route() // charts take their colours when drawn
})
$('range').addEventListener('change', () => {
  const kind = $('range').value
  $('custom-range').hidden = kind !== 'custom'
  if (kind === 'custom') {
    const p = state.view?.period?.p
    $('range-from').value = $('range-from').value || p?.from || ''
    $('range-to').value = $('range-to').value || p?.to || ''
    $('range-from').focus()
    return
  }
  setRange({ kind })
})
$('range-form').addEventListener('submit', (e) => {
  e.preventDefault()
  setRange({ kind: 'custom', from: $('range-from').value, to: $('range-to').value })
})
function setRange(range) {
  localStorage.setItem(RANGE_STORE, JSON.stringify(range))
  const view = state.view
  if (!view || view.alerts) return
  view.range = range
  loadPeriod(view).catch(handleError)
}

start().catch(handleError)
