// Bundles the agent (its code, the shared/ modules it imports and its npm dependencies) into
// edge-agent/dist: the entry kawasan-agent.mjs and chunks loaded only when a config needs them
// (Modbus through modbus-serial, the terminal log printer), so the package installs on a gateway
// on its own (`npm pack` runs this via prepack). One file instead of ~400 modules in node_modules
// is what keeps the agent small: node holds per-module loader state, and a module tree read file
// by file cost ~20 MB more resident memory than the same code in one file (docs/PERFORMANCE.md).
// Only native packages stay external: serialport (optional, Modbus RTU) and the optional native
// speed-ups ws tries to load.
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

// zod re-exports its ~50 translations of error messages as `z.locales`, a third of its code in the
// bundle (300 KB of source held in memory); the agent reports in English only (zod's default, `en`,
// which zod configures from its own import). Only that one stays.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
      /[\\/]zod[\\/]v4[\\/]/.test(a.importer)
        ? { path: join(dirname(a.importer), '..', 'locales', 'index.js'), namespace: 'zod-locales' }
        : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (a) => ({
      contents: "export { default as en } from './en.js'",
      resolveDir: dirname(a.path),
    }))
  },
}
// `debug`, which mqtt.js, its packet parser and writer and modbus-serial call on every packet and
// request, takes its arguments as a rest array built per call even when no namespace is enabled:
// ~3 KB of garbage per published sample, most of the agent's allocation at 200 devices, which
// the garbage collector then promoted while polls were in flight (docs/PERFORMANCE.md, "Edge
// agent"). In the bundle `debug(namespace)` is a function that does nothing, unless DEBUG was set
// when the agent started: then it is the real one, as before.
const debugOnlyWhenAsked = {
  name: 'debug-only-when-asked',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, (a) =>
      a.namespace === 'debug-when-asked' ? undefined : { path: 'debug', namespace: 'debug-when-asked' },
    )
    b.onLoad({ filter: /.*/, namespace: 'debug-when-asked' }, () => ({
      contents: [
        'const off = () => {}',
        'off.enabled = false',
        'off.extend = () => off',
        "module.exports = (namespace) => (process.env.DEBUG ? require('debug')(namespace) : off)",
      ].join('\n'),
      resolveDir: root,
      loader: 'js',
    }))
  },
}
// Transports mqtt.js sets up on its first connect whatever the URL: WebSocket through `ws` (with
// node's http, https and zlib), TLS, and SOCKS proxies through `socks` (with dns and assert). An
// agent on mqtt:// uses none of them; loaded, they cost the agent ~2.5 MB of resident memory
// (docs/PERFORMANCE.md, "Edge agent", round 9). In the bundle each is a stand-in whose functions
// load the real module on their first call, so mqtts://, ws:// and a SOCKS proxy
// (MQTTJS_SOCKS_PROXY) work as before (edge-agent/test/bundle-lazy-modules.test.ts).
/** The stand-ins: what mqtt.js's connect/ modules require, and the functions each gives out. */
const LAZY_IN_MQTT_CONNECT = {
  './ws': ['streamBuilder', 'browserStreamBuilder'],
  './tls': ['default'],
  './socks': ['default'],
}
const MQTT_CONNECT_DIR = /[\\/]mqtt[\\/]build[\\/]lib[\\/]connect[\\/][^\\/]+\.js$/
const lazyModules = {
  name: 'lazy-modules',
  setup(b) {
    b.onResolve({ filter: /^\.\/(ws|tls|socks)$/ }, async (a) => {
      // The stand-in's own require of the real module, or a module elsewhere: resolved as usual.
      if (a.pluginData?.real || !MQTT_CONNECT_DIR.test(a.importer)) return undefined
      const real = await b.resolve(a.path, {
        kind: a.kind,
        resolveDir: a.resolveDir,
        importer: a.importer,
        pluginData: { real: true },
      })
      if (real.errors.length > 0) return { errors: real.errors }
      return {
        path: real.path,
        namespace: 'lazy-module',
        pluginData: { functions: LAZY_IN_MQTT_CONNECT[a.path] },
      }
    })
    b.onLoad({ filter: /.*/, namespace: 'lazy-module' }, (a) => ({
      contents: [
        'let real',
        `const load = () => (real ??= require(${JSON.stringify(a.path)}))`,
        'Object.defineProperty(exports, "__esModule", { value: true })',
        ...a.pluginData.functions.map(
          (f) =>
            `exports[${JSON.stringify(f)}] = function (...args) { return load()[${JSON.stringify(f)}].apply(this, args) }`,
        ),
        '',
      ].join('\n'),
      resolveDir: dirname(a.path),
      loader: 'js',
    }))
  },
}
const outdir = join(root, 'dist')
mkdirSync(outdir, { recursive: true }) // a fresh clone has none (dist/ is not committed)
for (const f of readdirSync(outdir, { withFileTypes: true }).filter((e) => e.isFile()))
  if (/\.m?js(\.map)?$/.test(f.name)) rmSync(join(outdir, f.name)) // chunks of an older build

await build({
  entryPoints: { 'kawasan-agent': join(root, 'src/cli.ts') },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['serialport', 'bufferutil', 'utf-8-validate'],
  plugins: [zodEnglishOnly, debugOnlyWhenAsked, lazyModules],
  // Smaller source text to hold in memory (V8 keeps a module's whole source): local identifiers
  // shortened too, 1.22 → 0.87 MB for the entry and 104 → 56 KB for the Modbus chunk. Function,
  // method and class names are kept (keepNames), so stack traces name functions as before (a
  // method's class by its short name); the source map resolves the rest, e.g. in CPU profiles.
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: true,
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
  // Bundled CommonJS modules require node built-ins: ESM has no `require`, so the bundle makes one.
  banner: {
    js: [
      '// Kawasan edge agent, bundled by edge-agent/scripts/bundle.mjs',
      "import { createRequire as __kawasanRequire } from 'node:module'",
      'const require = __kawasanRequire(import.meta.url)',
    ].join('\n'),
  },
})
console.log('bundled edge-agent/dist/kawasan-agent.mjs')
