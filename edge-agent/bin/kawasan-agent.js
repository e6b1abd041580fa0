#!/usr/bin/env node
// Launcher. In the repository it runs the TypeScript sources through tsx (no build step); the npm
// package ships no sources but the bundle made by `npm run bundle` (prepack), and runs that.
import { existsSync } from 'node:fs'

const sources = new URL('../src/cli.ts', import.meta.url)
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(sources.href)
} else {
  await import(new URL('../dist/kawasan-agent.mjs', import.meta.url).href)
}
