// `npm run build`: the JavaScript production runs (docker image, systemd units), so no TypeScript
// is compiled at run time. Copies bin/, services/, shared/, infra/ and package.json into build/
// (default) and turns every .ts file there into a .js file beside it (esbuild, one file at a time:
// no bundling, so every path a module finds relative to itself, such as the dashboard, the factor
// sets or mosquitto's settings, stays where it was). Tests and benchmarks are left out.
// build/node_modules links to ../node_modules; `--in-place DIR` compiles a copy in DIR itself
// (the Docker build) instead. bin/kawasan.js runs services/cli/main.js when it exists, else tsx.
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transform } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const inPlace = process.argv.indexOf('--in-place')
const out = inPlace >= 0 ? process.argv[inPlace + 1] : join(root, 'build')
const SOURCES = ['bin', 'services', 'shared', 'infra', 'package.json']
const skip = (path) => /\.test\.ts$/.test(path) || /(^|\/)(bench|test)(\/|$)/.test(path)

if (inPlace < 0) {
  rmSync(out, { recursive: true, force: true })
  for (const s of SOURCES)
    cpSync(join(root, s), join(out, s), { recursive: true, filter: (src) => !skip(relative(root, src)) })
  symlinkSync('../node_modules', join(out, 'node_modules'))
}

let files = 0
async function compile(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (name === 'node_modules') continue
    if (statSync(path).isDirectory()) await compile(path)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      if (skip(relative(out, path))) {
        rmSync(path)
        continue
      }
      const { code } = await transform(readFileSync(path, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: relative(out, path),
      })
      writeFileSync(path.replace(/\.ts$/, '.js'), code)
      rmSync(path)
      files++
    }
  }
}
for (const s of SOURCES.filter((x) => !x.includes('.')))
  if (existsSync(join(out, s))) await compile(join(out, s))
console.log(`compiled ${files} modules into ${relative(process.cwd(), out) || '.'}`)
