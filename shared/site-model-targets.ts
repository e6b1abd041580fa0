/**
 * Emission reduction targets of the site model (`targets:`; docs/TARGETS.md, docs/SITE-MODEL.md):
 * one per plant, tenant (company) or the cluster, with its base year, target year, reduction path,
 * scopes and Scope 2 method, following the GHG Protocol Corporate Standard ch. 11 ("Setting a GHG
 * target"). References to plants and tenants are checked by the site model's own refinement.
 */
import { z } from 'zod'
import { ID_PATTERN, ID_RULE } from './topics.js'

const id = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`)

/** SBTi's 1.5 °C-aligned linear absolute contraction: 4.2 % of base-year emissions a year (docs/TARGETS.md). */
export const SBTI_1_5C_RATE_PER_YEAR = 0.042

export const TARGET_LEVELS = ['plant', 'tenant', 'cluster'] as const
export type TargetLevel = (typeof TARGET_LEVELS)[number]

const year = z.number().int().min(2000).max(2100)

export const targetSchema = z
  .strictObject({
    id: id.describe('Target id, unique in the site model (used in the API path /targets/{id})'),
    name: z.string().min(1).optional(),
    level: z
      .enum(TARGET_LEVELS)
      .describe('Whose emissions the target covers: a plant, a tenant, or the cluster'),
    of: id.optional().describe('Plant id (level plant) or tenant id (level tenant); omitted for the cluster'),
    base_year: year.describe('Calendar year (cluster time zone) the reduction is measured from'),
    base_emissions_t_co2e: z
      .number()
      .nonnegative()
      .optional()
      .describe(
        'Base-year emissions in t CO2e when entered (e.g. from an earlier inventory); omitted: computed from the stored daily rollups of the base year',
      ),
    target_year: year.describe('Calendar year by which the reduction is reached'),
    path: z
      .enum(['linear', 'sbti_1_5c'])
      .default('linear')
      .describe(
        'linear: straight line from the base-year emissions to the target-year level; sbti_1_5c: absolute contraction of 4.2 % of base-year emissions a year (1.5 °C-aligned)',
      ),
    reduction_pct: z
      .number()
      .min(0)
      .max(100)
      .default(100)
      .describe('Linear path: reduction by the target year, % of base-year emissions (100 = net zero)'),
    scopes: z
      .array(z.enum(['scope1', 'scope2']))
      .min(1)
      .default(['scope1', 'scope2'])
      .describe('Scopes in the target boundary; biogenic CO2 is always reported outside the scopes'),
    scope2_method: z
      .enum(['location', 'market'])
      .default('market')
      .describe('Scope 2 figures the target is tracked with: location- or market-based'),
  })
  .superRefine((t, ctx) => {
    if (t.target_year <= t.base_year)
      ctx.addIssue({
        code: 'custom',
        path: ['target_year'],
        message: `target year ${t.target_year} must be after the base year ${t.base_year}`,
      })
    if (t.level === 'cluster' && t.of !== undefined)
      ctx.addIssue({ code: 'custom', path: ['of'], message: 'a cluster target names no plant or tenant' })
    if (t.level !== 'cluster' && t.of === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['of'],
        message: `a ${t.level} target needs the ${t.level} id in "of"`,
      })
  })
export type Target = z.infer<typeof targetSchema>

/** Site-model checks across sections: unique target ids, and `of` naming a plant or tenant that exists. */
export function checkTargets(
  targets: readonly Target[],
  plants: readonly { id: string; tenant: string }[],
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  const plantIds = new Set(plants.map((p) => p.id))
  const tenants = new Set(plants.map((p) => p.tenant))
  const seen = new Set<string>()
  targets.forEach((t, i) => {
    if (seen.has(t.id))
      ctx.addIssue({ code: 'custom', path: ['targets', i, 'id'], message: `duplicate target id "${t.id}"` })
    seen.add(t.id)
    if (t.level === 'plant' && t.of !== undefined && !plantIds.has(t.of))
      ctx.addIssue({
        code: 'custom',
        path: ['targets', i, 'of'],
        message: `unknown plant "${t.of}" (plants: ${[...plantIds].join(', ')})`,
      })
    if (t.level === 'tenant' && t.of !== undefined && !tenants.has(t.of))
      ctx.addIssue({
        code: 'custom',
        path: ['targets', i, 'of'],
        message: `no plant has tenant "${t.of}" (tenants: ${[...tenants].join(', ')})`,
      })
  })
}
