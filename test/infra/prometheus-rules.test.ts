/**
 * The Prometheus alerting rules (infra/prometheus/kawasan-alerts.yml, docs/ALERTS.md): valid for
 * Debian's promtool, passing their own unit tests (kawasan-alerts.test.yml), and written against
 * metrics the services really export, so a renamed metric cannot silently disarm an alert.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { AgentStatusStore } from '../../services/api/agent-status-store.js'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

const DIR = 'infra/prometheus'
const promtool = (...args: string[]) =>
  execFileSync('promtool', args, { cwd: DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

describe('Prometheus alerting rules', () => {
  it('pass promtool check rules', () => {
    expect(promtool('check', 'rules', 'kawasan-alerts.yml')).toMatch(/SUCCESS: 5 rules found/)
  })

  it('pass their promtool unit tests: each alert fires for its series and not for a healthy one', () => {
    expect(promtool('test', 'rules', 'kawasan-alerts.test.yml')).toMatch(/SUCCESS/)
  })

  it('use only metrics that the ingest, API and rollup services register', async () => {
    const rules = readFileSync(`${DIR}/kawasan-alerts.yml`, 'utf8')
    const used = new Set(rules.match(/\bkawasan_[a-z_]+\b/g))
    const site = exampleSite()
    const registry = new Registry()
    const influx = await freshDatabase('prom_rules')
    // The ingest pipeline and the API register their metrics in their constructors.
    const pipeline = new TelemetryPipeline({ site, writer: influx, log: silentLogger(), metrics: registry })
    const store = new AgentStatusStore()
    store.update(
      'kawasan/v1/cikarang/plant-a/agent/status',
      Buffer.from('{"state":"online","buffer_depth":42}'),
    )
    const api = await buildApiApp({
      site,
      influx,
      keys: new ApiKeyStore(join(mkdtempSync(join(tmpdir(), 'kawasan-prom-')), 'api-keys.yaml')),
      metrics: registry,
      agentStatus: store,
    })
    try {
      const ts = Date.now()
      const accepted = pipeline.accept(
        telemetryTopic('cikarang', 'plant-a', 'grid-main'),
        Buffer.from(JSON.stringify({ v: 1, seq: 1, readings: [{ ts, m: { p_kw: 10 } }] })),
      )
      await accepted.stored
      expect(accepted.points).toBeGreaterThan(0)
      const text = await registry.metrics()
      // The series the device-offline and buffer rules read, with the labels they name.
      expect(text).toMatch(
        /kawasan_ingest_device_last_seen_timestamp_seconds\{plant="plant-a",device="grid-main"\} \d+/,
      )
      expect(text).toContain('kawasan_agent_buffer_depth_samples{plant="plant-a"} 42')
      const registered = new Set(registry.getMetricsAsArray().map((m) => m.name))
      // The rollup service registers its metrics when it is built with a config; its names are in its source.
      const rollupSource = readFileSync('services/rollup/app.ts', 'utf8')
      for (const name of used) {
        if (name.startsWith('kawasan_rollup_')) expect(rollupSource, name).toContain(`'${name}'`)
        else expect(registered.has(name), name).toBe(true)
      }
      expect(used.size).toBe(5)
    } finally {
      await pipeline.stop()
      await api.app.close()
      await influx.queryAll(`DROP DATABASE "${influx.database}"`)
    }
  })
})
