/**
 * Production runs JavaScript, not TypeScript compiled at start (docs/PERFORMANCE.md): `npm run
 * build` writes build/ with no .ts left, and the compiled CLI runs from it, without tsx, with the
 * files modules find next to themselves (site model checks, the dashboard, factor sets).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) files(path, out)
    else out.push(path)
  }
  return out
}

describe('npm run build', () => {
  it('compiles every module to JavaScript beside its files, and the compiled CLI runs without tsx', () => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'pipe' })
    const built = files('build')
    expect(built.filter((f) => f.endsWith('.ts'))).toEqual([])
    expect(built.filter((f) => /\.test\.js$|\/bench\//.test(f))).toEqual([])
    expect(existsSync('build/services/cli/main.js')).toBe(true)
    expect(existsSync('build/services/api/dashboard/index.html')).toBe(true)
    expect(built.some((f) => /shared\/emissions\/factors\/factor-set-.*\.json$/.test(f))).toBe(true)
    // build/ has no .ts file, so the launcher's tsx branch could not run main.ts: this is main.js.
    const run = spawnSync(
      process.execPath,
      ['build/bin/kawasan.js', 'site', 'check', 'infra/examples/cikarang/site.yaml'],
      { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' } },
    )
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/identities \d+/)
  })
})
