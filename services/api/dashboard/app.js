// Kawasan dashboard: plain ES module, no build step. Reads the API with the key kept in
// sessionStorage (given once as ?key=), listens to /api/v1/live/stream with fetch (EventSource
// cannot send an Authorization header), draws with uPlot (global `uPlot`).
/* global uPlot */

const KEY_STORE = 'kawasan.key'
const SOURCES = [
  { field: 'grid_import', label: 'Grid import', color: '#8b98a5' },
  { field: 'gen_solar_pv', label: 'Solar PV', color: '#f2cc60' },
  { field: 'gen_wind', label: 'Wind', color: '#79c0ff' },
  { field: 'gen_biomass', label: 'Biomass', color: '#56d364' },
  { field: 'battery_discharge', label: 'Battery discharge', color: '#d2a8ff' },
  { field: 'gen_hydrogen_fc', label: 'H₂ fuel cell', color: '#39c5cf' },
  { field: 'gen_gas_chp', label: 'Gas CHP', color: '#ffa657' },
  { field: 'gen_diesel_genset', label: 'Diesel genset', color: '#f85149' },
]
const ROLE_OF_SOURCE = {
  grid_import: 'grid_import',
  gen_solar_pv: 'solar_pv',
  gen_wind: 'wind',
  gen_biomass: 'biomass',
  battery_discharge: 'battery_discharge',
  gen_hydrogen_fc: 'hydrogen_fc',
  gen_gas_chp: 'gas_chp',
  gen_diesel_genset: 'diesel_genset',
}

const $ = (id) => document.getElementById(id)
const state = {
  key: null,
  cluster: null,
  plants: [],
  roles: new Set(),
  view: null,
  timers: [],
  charts: [],
  overview: null,
  plantView: null,
  lastLive: null,
  yesterdayKg: null,
}

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

function showGate(message) {
  for (const id of ['overview', 'plant']) $(id).hidden = true
  $('key-gate').hidden = false
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

// ---------- formatting ----------
const fmt = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v)
    ? '–'
    : Number(v).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const tonnes = (kg) => (kg === null || kg === undefined ? null : kg / 1000)
const ago = (iso) => {
  if (!iso) return 'never'
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000)
  if (s < 90) return `${s} s ago`
  if (s < 5400) return `${Math.round(s / 60)} min ago`
  if (s < 172800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}
const todayKg = (row) =>
  row ? (row.today_scope1_kg_co2e ?? 0) + (row.today_scope2_location_kg_co2e ?? 0) : null

/** Sum of plant rows (for keys that may not see the cluster total). */
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
    if (k === 'plant' || k === 'time') continue
    out[k] = rows.reduce((s, r) => s + (r[k] ?? 0), 0)
  }
  const c = out.consumption_kw
  // Ratios are consumption-weighted, not summed.
  for (const k of [
    'renewable_share_pct',
    'carbon_intensity_g_co2e_per_kwh',
    'today_renewable_share_location_pct',
  ]) {
    out[k] = c > 0 ? rows.reduce((s, r) => s + (r[k] ?? 0) * (r.consumption_kw ?? 0), 0) / c : null
  }
  return out
}

function totalOf(snapshot) {
  return snapshot.cluster_total ?? sumRows(snapshot.plants)
}

function setLive(on, text) {
  $('live-dot').classList.toggle('on', on)
  if (text !== undefined) $('updated').textContent = text
}

// ---------- charts ----------
function chartWidth(el) {
  return Math.max(300, el.clientWidth || el.parentElement.clientWidth - 32)
}

/** A stacked area chart of power by source; `sources` bottom to top. */
function stackedChart(el, sources, height) {
  const raw = sources.map(() => [])
  let xs = []
  const series = [{}]
  // uPlot draws in order: the top of the stack first, each filled down to zero.
  for (let i = sources.length - 1; i >= 0; i--) {
    const s = sources[i]
    series.push({
      label: s.label,
      stroke: s.color,
      fill: `${s.color}cc`,
      width: 1,
      points: { show: false },
      value: (_u, _v, _si, idx) => (idx === null || idx === undefined ? '–' : `${fmt(raw[i][idx], 0)} kW`),
    })
  }
  const opts = {
    width: chartWidth(el),
    height,
    series,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.05)] } },
    axes: [axis(), { ...axis(), size: 70, values: (_u, vals) => vals.map((v) => fmt(v, 0)) }],
    legend: { live: true },
    cursor: { points: { show: false } },
  }
  const plot = new uPlot(opts, [[], ...sources.map(() => [])], el)
  state.charts.push(plot)
  const draw = () => {
    const stacked = []
    const acc = xs.map(() => 0)
    sources.forEach((_s, i) => {
      stacked[i] = raw[i].map((v, j) => {
        acc[j] += v ?? 0
        return acc[j]
      })
    })
    plot.setData([xs, ...stacked.reverse()])
  }
  return {
    /** rows: [{t: epoch s, values: {field: kW}}] */
    set(rows) {
      xs = rows.map((r) => r.t)
      sources.forEach((s, i) => {
        raw[i] = rows.map((r) => r.values[s.field] ?? 0)
      })
      draw()
    },
    push(row, keepSeconds) {
      if (xs.length && row.t <= xs.at(-1)) return
      xs.push(row.t)
      sources.forEach((s, i) => {
        raw[i].push(row.values[s.field] ?? 0)
      })
      while (xs.length && xs[0] < row.t - keepSeconds) {
        xs.shift()
        for (const r of raw) r.shift()
      }
      draw()
    },
  }
}

function axis() {
  const css = getComputedStyle(document.documentElement)
  return {
    stroke: css.getPropertyValue('--muted').trim(),
    grid: { stroke: css.getPropertyValue('--line').trim(), width: 1 },
    ticks: { stroke: css.getPropertyValue('--line').trim() },
  }
}

function qualityChart(el) {
  const opts = {
    width: chartWidth(el),
    height: 200,
    series: [
      {},
      {
        label: 'Renewable share %',
        stroke: '#56d364',
        width: 2,
        scale: 'pct',
        points: { show: false },
        value: (_u, v) => `${fmt(v, 1)} %`,
      },
      {
        label: 'Carbon intensity g/kWh',
        stroke: '#ffa657',
        width: 2,
        scale: 'g',
        points: { show: false },
        value: (_u, v) => `${fmt(v, 0)} g/kWh`,
      },
    ],
    scales: {
      x: { time: true },
      pct: { range: [0, 100] },
      g: { range: (_u, _min, max) => [0, Math.max(100, max * 1.1)] },
    },
    axes: [
      axis(),
      { ...axis(), scale: 'pct', size: 50 },
      { ...axis(), scale: 'g', side: 1, size: 60, grid: { show: false } },
    ],
    cursor: { points: { show: false } },
  }
  const plot = new uPlot(opts, [[], [], []], el)
  state.charts.push(plot)
  const data = [[], [], []]
  return {
    set(rows) {
      data[0] = rows.map((r) => r.t)
      data[1] = rows.map((r) => r.values.renewable_share_pct ?? null)
      data[2] = rows.map((r) => r.values.carbon_intensity_g_co2e_per_kwh ?? null)
      plot.setData(data)
    },
    push(row, keepSeconds) {
      if (data[0].length && row.t <= data[0].at(-1)) return
      data[0].push(row.t)
      data[1].push(row.values.renewable_share_pct ?? null)
      data[2].push(row.values.carbon_intensity_g_co2e_per_kwh ?? null)
      while (data[0].length && data[0][0] < row.t - keepSeconds) for (const d of data) d.shift()
      plot.setData(data)
    },
  }
}

function powerValues(row) {
  const values = {}
  for (const s of SOURCES) values[s.field] = row[`${s.field}_kw`] ?? 0
  values.renewable_share_pct = row.renewable_share_pct
  values.carbon_intensity_g_co2e_per_kwh = row.carbon_intensity_g_co2e_per_kwh
  return values
}

function sourcesFor(roles) {
  const list = SOURCES.filter((s) => roles.has(ROLE_OF_SOURCE[s.field]))
  return list.length ? list : SOURCES.slice(0, 2)
}

function clearView() {
  for (const t of state.timers) clearInterval(t)
  state.timers = []
  for (const c of state.charts) c.destroy()
  state.charts = []
  state.overview = null
  state.plantView = null
}

// ---------- overview ----------
async function showOverview() {
  clearView()
  $('plant').hidden = true
  $('overview').hidden = false
  const c = state.cluster
  $('scope-note').textContent = c.cluster_totals_visible
    ? ''
    : `Totals are the sum of your ${state.plants.length === 1 ? 'plant' : 'plants'} only.`
  const sources = sourcesFor(state.roles)
  const overview = {
    stack: stackedChart($('chart-sources'), sources, 320),
    quality: qualityChart($('chart-quality')),
  }
  state.overview = overview
  const history = await api('/api/v1/live/history?minutes=60&step_s=30')
  if (state.overview !== overview) return
  const rows = historyRows(history.series, c.cluster_totals_visible)
  overview.stack.set(rows)
  overview.quality.set(rows)
  if (state.lastLive) renderOverviewLive(state.lastLive, false)
  await refreshYesterday()
  await refreshDeviceCount()
  state.timers.push(setInterval(() => void refreshDeviceCount().catch(() => {}), 15000))
}

/** Rows of the cluster total, or summed over plants, per time step. */
function historyRows(series, useTotal) {
  const total = series.find((s) => s.plant === '_cluster')
  if (useTotal && total)
    return total.rows.map((r) => ({ t: Date.parse(r.time) / 1000, values: powerValues(r) }))
  const byTime = new Map()
  for (const s of series) {
    if (s.plant === '_cluster') continue
    for (const r of s.rows) {
      const list = byTime.get(r.time) ?? []
      list.push(r)
      byTime.set(r.time, list)
    }
  }
  return [...byTime.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([t, list]) => ({ t: Date.parse(t) / 1000, values: powerValues(sumRows(list)) }))
}

async function refreshYesterday() {
  const y = state.cluster.yesterday
  const res = await api(
    `/api/v1/rollups?from=${y}&fields=scope1_kg_co2e,scope2_location_kg_co2e,samples_received`,
  )
  // A day without readings is no data ("–"), not 0.00 t (issue 12).
  const rows = res.rows.filter(
    (r) =>
      r.samples_received > 0 &&
      (state.cluster.cluster_totals_visible ? r.plant === '_cluster' : r.plant !== '_cluster'),
  )
  state.yesterdayKg = rows.length
    ? rows.reduce((s, r) => s + (r.scope1_kg_co2e ?? 0) + (r.scope2_location_kg_co2e ?? 0), 0)
    : null
  $('kpi-yesterday').textContent = fmt(tonnes(state.yesterdayKg), 2)
}

async function refreshDeviceCount() {
  const res = await api('/api/v1/devices')
  const online = res.devices.filter((d) => d.online).length
  $('kpi-devices').textContent = `${online} / ${res.devices.length}`
}

function renderOverviewLive(snapshot, append) {
  const total = totalOf(snapshot)
  if (!total) return
  $('kpi-consumption').textContent = fmt(total.consumption_kw, 0)
  $('kpi-renewable').textContent = fmt(total.renewable_share_pct, 1)
  $('kpi-intensity').textContent = fmt(total.carbon_intensity_g_co2e_per_kwh, 0)
  const today = todayKg(total)
  $('kpi-today').textContent = fmt(tonnes(today), 2)
  if (state.yesterdayKg) {
    const pct = ((today - state.yesterdayKg) / state.yesterdayKg) * 100
    $('kpi-delta').textContent = `${pct >= 0 ? '+' : ''}${fmt(pct, 0)} % so far`
    $('kpi-delta').className = pct >= 0 ? 'up' : 'down'
  }
  const tbody = $('plant-table').querySelector('tbody')
  const names = new Map(state.plants.map((p) => [p.id, p.name]))
  tbody.replaceChildren(
    ...snapshot.plants.map((r) => {
      const tr = document.createElement('tr')
      tr.dataset.plant = r.plant
      const cells = [
        names.get(r.plant) ?? r.plant,
        fmt(r.consumption_kw, 0),
        fmt(r.grid_import_kw, 0),
        fmt(r.gen_solar_pv_kw, 0),
        fmt(r.renewable_share_pct, 1),
        fmt(r.carbon_intensity_g_co2e_per_kwh, 0),
        fmt(tonnes(todayKg(r)), 2),
        r.devices_total ? `${fmt(r.devices_online)} / ${fmt(r.devices_total)}` : '–',
      ]
      for (const text of cells) {
        const td = document.createElement('td')
        td.textContent = text
        tr.append(td)
      }
      tr.addEventListener('click', () => {
        location.hash = `#plant/${r.plant}`
      })
      return tr
    }),
  )
  if (append && state.overview) {
    const point = { t: Date.parse(total.time) / 1000, values: powerValues(total) }
    state.overview.stack.push(point, 3600)
    state.overview.quality.push(point, 3600)
  }
}

// ---------- plant drill-down ----------
async function showPlant(id) {
  clearView()
  const plant = state.plants.find((p) => p.id === id)
  if (!plant) {
    location.hash = ''
    return
  }
  $('overview').hidden = true
  $('plant').hidden = false
  $('plant-title').textContent = `${plant.name} (${plant.id})`
  const detail = await api(`/api/v1/plants/${encodeURIComponent(id)}`)
  const roles = new Set(detail.devices.map((d) => d.role))
  const view = { id, chart: stackedChart($('chart-plant'), sourcesFor(roles), 340) }
  state.plantView = view
  if (state.lastLive) renderPlantLive(state.lastLive)
  await Promise.all([loadPlantChart(view), refreshDevices(id)])
  state.timers.push(setInterval(() => void refreshDevices(id).catch(() => {}), 15000))
  state.timers.push(setInterval(() => void loadPlantChart(view).catch(() => {}), 60000))
}

/** The last 24 h of sources from the 1-minute rollups (kWh per minute × 60 = kW); live history if none. */
async function loadPlantChart(view) {
  const c = state.cluster
  const fields = [
    'grid_import_kwh',
    'battery_discharge_kwh',
    ...SOURCES.filter((s) => s.field.startsWith('gen_')).map((s) => `${s.field}_kwh`),
  ]
  const res = await api(
    `/api/v1/rollups?resolution=1m&from=${c.yesterday}&to=${c.today}&plant=${view.id}&include_cluster=false&fields=${fields.join(',')}`,
  )
  const since = Date.now() - 24 * 3600 * 1000
  let rows = res.rows
    .filter((r) => Date.parse(r.time) >= since)
    .map((r) => {
      const values = {}
      for (const s of SOURCES) values[s.field] = (r[`${s.field}_kwh`] ?? 0) * 60
      return { t: Date.parse(r.time) / 1000, values }
    })
  $('plant-chart-source').textContent = 'kW, from 1-minute rollups'
  // Under half an hour of minute rollups (fresh system): live snapshots, with every update appended.
  view.live = rows.length < 30
  if (view.live) {
    const h = await api(`/api/v1/live/history?plant=${view.id}&minutes=1440&step_s=60&include_cluster=false`)
    rows = (h.series.find((s) => s.plant === view.id)?.rows ?? []).map((r) => ({
      t: Date.parse(r.time) / 1000,
      values: powerValues(r),
    }))
    $('plant-chart-source').textContent = 'kW, from live snapshots (too few 1-minute rollups yet)'
  }
  if (state.plantView === view) view.chart.set(rows)
}

async function refreshDevices(id) {
  const res = await api(`/api/v1/devices?plant=${encodeURIComponent(id)}`)
  const tbody = $('device-table').querySelector('tbody')
  tbody.replaceChildren(
    ...res.devices.map((d) => {
      const tr = document.createElement('tr')
      const status = document.createElement('td')
      status.className = d.online ? 'online' : 'offline'
      status.textContent = d.online ? '● online' : '● offline'
      const cells = [
        d.name ? `${d.id} (${d.name})` : d.id,
        d.role.replace(/_/g, ' '),
        status,
        ago(d.last_seen),
        fmt(d.sequence_gaps),
        fmt(d.missing_readings),
        d.buffer_depth === null ? '–' : fmt(d.buffer_depth),
      ]
      for (const c of cells) {
        if (c instanceof HTMLElement) tr.append(c)
        else {
          const td = document.createElement('td')
          td.textContent = c
          tr.append(td)
        }
      }
      return tr
    }),
  )
}

function renderPlantLive(snapshot) {
  const view = state.plantView
  if (!view) return
  const r = snapshot.plants.find((p) => p.plant === view.id)
  if (!r) return
  $('p-consumption').textContent = fmt(r.consumption_kw, 0)
  $('p-renewable').textContent = fmt(r.renewable_share_pct, 1)
  $('p-intensity').textContent = fmt(r.carbon_intensity_g_co2e_per_kwh, 0)
  $('p-today').textContent = fmt(tonnes(todayKg(r)), 2)
  if (view.live) view.chart.push({ t: Date.parse(r.time) / 1000, values: powerValues(r) }, 86400)
}

// ---------- live stream ----------
function onLive(snapshot) {
  state.lastLive = snapshot
  setLive(true, snapshot.updated ? `live · ${new Date(snapshot.updated).toLocaleTimeString()}` : 'live')
  if (state.overview) renderOverviewLive(snapshot, true)
  if (state.plantView) renderPlantLive(snapshot)
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

// ---------- start ----------
function route() {
  const m = /^#plant\/([a-z0-9_-]+)$/.exec(location.hash)
  for (const a of $('nav').querySelectorAll('a'))
    a.classList.toggle('active', a.getAttribute('href') === (location.hash || '#'))
  const shown = m ? showPlant(m[1]) : showOverview()
  shown.catch(handleError)
}

function handleError(err) {
  if (err instanceof Unauthorized) showGate(err.message)
  else $('updated').textContent = `error: ${err.message}`
}

async function start() {
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
  state.plants = plants.plants
  state.roles = new Set(devices.devices.map((d) => d.role))
  $('cluster-name').textContent = state.cluster.name
  document.title = `Kawasan · ${state.cluster.name}`
  const links = [['#', 'Overview'], ...state.plants.map((p) => [`#plant/${p.id}`, p.id])]
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

start().catch(handleError)
