/** The example site model and its demo secrets, as tests use them. */
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import { loadSiteIndex } from '../../shared/site-model-file.js'

export const EXAMPLE_SITE_FILE = 'infra/examples/cikarang/site.yaml'
export const exampleSite = () => loadSiteIndex(EXAMPLE_SITE_FILE)
export const demoPasswords = (): Record<string, string> =>
  YAML.parse(readFileSync('infra/examples/cikarang/simulator-secrets.yaml', 'utf8'))
