/** `kawasan api-key create|list|revoke`: keys in the file the API reads (api.keysFile). */

import type { SiteIndex } from '../../shared/site-model.js'
import { ID_PATTERN } from '../../shared/topics.js'
import { ApiKeyStore, KEY_SCOPES, type KeyScope } from '../api/api-keys.js'
import { keysFileOf } from '../api/main.js'
import { API_KEY_OPTIONS, API_KEY_USAGE } from './api-key-options.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

export async function apiKeyCommand(
  config: KawasanConfig,
  site: SiteIndex,
  ctx: CommandContext,
): Promise<number> {
  const { values, positionals } = ctx.args
  const [action, id] = positionals
  const fail = (reason: string) => {
    ctx.err.write(
      `kawasan api-key ${action ?? ''}: ${reason}\n\nusage:\n${API_KEY_USAGE}\n`.replace(
        'api-key :',
        'api-key:',
      ),
    )
    return 2
  }
  const keys = new ApiKeyStore(keysFileOf(config))
  if (action !== 'create') {
    const stray = Object.keys(API_KEY_OPTIONS).find((o) => values[o] !== undefined)
    if (stray) return fail(`--${stray} is an option of \`api-key create\``)
  }
  if (action === 'create') {
    if (id !== undefined) return fail(`unexpected argument "${id}"`)
    const scope = values.scope
    if (typeof scope !== 'string' || !(KEY_SCOPES as readonly string[]).includes(scope))
      return fail(`--scope must be ${KEY_SCOPES.slice(0, -1).join(', ')} or ${KEY_SCOPES.at(-1)}`)
    const tenant = values.tenant as string | undefined
    if (tenant !== undefined && !site.model.plants.some((p) => p.tenant === tenant)) {
      const known = [...new Set(site.model.plants.map((p) => p.tenant))].join(', ')
      return fail(`unknown tenant "${tenant}" (site model tenants: ${known})`)
    }
    if (scope === 'admin' && tenant !== undefined)
      return fail('an admin key manages the whole estate and cannot be limited to a tenant')
    if (scope === 'editor' && tenant === undefined)
      return fail(
        "an editor key enters one tenant's data: give --tenant (estate-wide data entry is an admin key)",
      )
    const wantedId = values.id as string | undefined
    if (wantedId !== undefined && !ID_PATTERN.test(wantedId))
      return fail(`--id "${wantedId}": use lower-case letters, digits, - and _`)
    if (wantedId !== undefined && keys.list().some((k) => k.id === wantedId))
      return fail(`a key with id "${wantedId}" exists (kawasan api-key revoke ${wantedId} first)`)
    const { key, record } = await keys.create({
      id: wantedId,
      scope: scope as KeyScope,
      tenant,
      label: values.label as string | undefined,
    })
    ctx.err.write(
      `created key ${record.id} (scope ${record.scope}${record.tenant ? `, tenant ${record.tenant}` : ''}) in ${keys.file}; it is shown once:\n`,
    )
    ctx.out.write(`${key}\n`)
    return 0
  }
  if (action === 'list') {
    if (id !== undefined) return fail(`unexpected argument "${id}"`)
    for (const k of keys.list())
      ctx.out.write(
        `${k.id}\t${k.scope}\t${k.tenant ?? '(all tenants)'}\t${k.created ?? ''}\t${k.label ?? ''}\n`,
      )
    return 0
  }
  if (action === 'revoke') {
    if (!id || !ID_PATTERN.test(id))
      return fail('give the id of the key to revoke (see `kawasan api-key list`)')
    if (!keys.revoke(id)) {
      ctx.err.write(`kawasan api-key revoke: no key "${id}" in ${keys.file}\n`)
      return 1
    }
    ctx.err.write(`revoked ${id}\n`)
    return 0
  }
  return fail(action ? `unknown action "${action}"` : 'create, list or revoke?')
}
