#!/usr/bin/env node
// Kawasan CLI launcher. Production runs the JavaScript `npm run build` makes (build/, or the Docker
// image): services/cli/main.js is there and runs as is. In the repository only the TypeScript
// sources exist and tsx runs them (no build step needed for `npm start`).
import { existsSync } from 'node:fs'

const compiled = new URL('../services/cli/main.js', import.meta.url)
if (existsSync(compiled)) {
  await import(compiled.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../services/cli/main.ts')
}
