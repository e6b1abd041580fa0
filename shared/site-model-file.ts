/** Reads and validates a site model file (YAML or JSON). */
import { formatIssues, readConfigFile } from './config-loader.js'
import { KawasanError } from './errors.js'
import { SiteIndex, type SiteModel, siteModelSchema } from './site-model.js'

export function loadSiteModel(file: string): SiteModel {
  const result = siteModelSchema.safeParse(readConfigFile(file))
  if (!result.success)
    throw new KawasanError('SITE_MODEL_INVALID', formatIssues(`site model ${file}`, result.error.issues))
  return result.data
}

export function loadSiteIndex(file: string): SiteIndex {
  return new SiteIndex(loadSiteModel(file))
}
