import { build } from 'esbuild'

const root = '/work/wt/perfagent/edge-agent'
const r = await build({
  entryPoints: [root + '/src/cli.ts'],
  outfile: '/tmp/perfagent/full.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['serialport', 'bufferutil', 'utf-8-validate'],
  minify: process.argv[2] === 'min',
  metafile: true,
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __kawasanRequire } from 'node:module'\nconst require = __kawasanRequire(import.meta.url)",
  },
})
const ins = Object.entries(r.metafile.inputs).map(([k, v]) => [k, v.bytes])
const byPkg = {}
for (const [k, b] of ins) {
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(k)
  const p = m ? m[1] : k.split('/').slice(0, 2).join('/')
  byPkg[p] = (byPkg[p] ?? 0) + b
}
console.log(
  Object.entries(byPkg)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25)
    .map((x) => x.join('='))
    .join(' '),
)
