/**
 * `kawasan site check FILE`: validates a site model as every service will read it and says what it
 * holds, or lists every problem with its line and column. No I/O beyond reading the file.
 */
import { problemsMessage } from '../../shared/config-issues.js'
import { readConfigSource } from '../../shared/config-loader.js'
import { checkSiteModel } from '../../shared/site-model-file.js'

export function siteCheck(file: string): { ok: boolean; text: string } {
  let source: ReturnType<typeof readConfigSource>
  try {
    source = readConfigSource(file)
  } catch (err) {
    return { ok: false, text: `${(err as Error).message}\n` }
  }
  const result = checkSiteModel(source)
  if (!result.ok) {
    return {
      ok: false,
      text: `${problemsMessage(file, result.problems, 'fix them and run `kawasan site check` again')}\n`,
    }
  }
  const m = result.model
  const devices = m.plants.reduce((n, p) => n + p.devices.length, 0)
  const certificates = m.plants.reduce((n, p) => n + p.certificates.length, 0)
  const shared = m.cluster.shared_devices.map((d) => {
    const a = d.allocation
    const split =
      a.method === 'fixed_shares'
        ? Object.entries(a.shares)
            .map(([plant, share]) => `${plant} ${Math.round(share * 1000) / 10} %`)
            .join(', ')
        : `metered at ${Object.keys(a.meters).join(', ')}`
    return `  shared   ${d.id} (${d.role}): ${split}`
  })
  const lines = [
    `${file}: OK`,
    `  cluster  ${m.cluster.id} "${m.cluster.name}", ${m.cluster.timezone}, grid region ${m.cluster.grid_region}`,
    `  plants   ${m.plants.length} (${m.plants.map((p) => `${p.id}: ${p.devices.length} devices`).join(', ')}), ${devices} devices in all`,
    ...shared,
    `  certificates ${certificates}, identities ${m.identities.length} (${countBy(m.identities.map((i) => i.role))})`,
  ]
  return { ok: true, text: `${lines.join('\n')}\n` }
}

function countBy(values: string[]): string {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'
}
