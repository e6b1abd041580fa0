/** `npm run docs:config`: writes docs/CONFIGURATION.md from the config schema. */
import { writeFileSync } from 'node:fs'
import { CONFIG_REFERENCE_FILE, renderConfigReference } from './config-reference.js'

writeFileSync(CONFIG_REFERENCE_FILE, renderConfigReference())
process.stdout.write(`wrote ${CONFIG_REFERENCE_FILE}\n`)
