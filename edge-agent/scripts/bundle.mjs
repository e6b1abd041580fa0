// Bundles the agent (its code and the shared/ modules it imports) into one ESM file,
// edge-agent/dist/kawasan-agent.mjs, so the package installs on a gateway on its own (`npm pack`
// runs this via prepack). npm dependencies stay external and are installed from package.json.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]

await build({
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: join(root, 'dist/kawasan-agent.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  sourcemap: true,
  logLevel: 'warning',
  // Bundled CommonJS modules (pino-pretty's colorette) require node built-ins: ESM has no
  // `require`, so the bundle makes one (without it the bundle died at start on "tty").
  banner: {
    js: [
      '// Kawasan edge agent, bundled by edge-agent/scripts/bundle.mjs',
      "import { createRequire as __kawasanRequire } from 'node:module'",
      'const require = __kawasanRequire(import.meta.url)',
    ].join('\n'),
  },
})
console.log('bundled edge-agent/dist/kawasan-agent.mjs')
