/**
 * The site model (docs/DESIGN.md §2): cluster → plants → devices, plus the MQTT identities allowed to talk
 * to the broker. One YAML/JSON file, validated once with zod; lookups are precomputed.
 */
import { z } from 'zod'
import { checkTargets, targetSchema } from './site-model-targets.js'
import { ID_PATTERN, ID_RULE } from './topics.js'

const id = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`)

/** Plant id under which shared cluster assets (e.g. a cluster solar farm) publish. */
export const SHARED_PLANT_ID = 'shared'

export const DEVICE_KINDS = ['meter', 'inverter', 'genset', 'boiler', 'battery', 'h2'] as const
export const DEVICE_ROLES = [
  'grid_import',
  'grid_export',
  'solar_pv',
  'wind',
  'biomass',
  'diesel_genset',
  'gas_chp',
  'battery_charge',
  'battery_discharge',
  'hydrogen_fc',
  'load',
] as const
export type DeviceRole = (typeof DEVICE_ROLES)[number]
export const FUELS = [
  'diesel',
  'natural_gas',
  'biomass_wood',
  'biogas',
  'hydrogen_green',
  'hydrogen_grey',
  'lpg',
  'coal_bituminous',
  'coal_sub_bituminous',
] as const

/** Device id under which an edge agent publishes its own status and last will (edge-agent `agent_id`). */
export const AGENT_STATUS_DEVICE_ID = 'agent'

export const deviceSchema = z.strictObject({
  id: id.refine(
    (v) => v !== AGENT_STATUS_DEVICE_ID,
    `"${AGENT_STATUS_DEVICE_ID}" is reserved for the edge agent's own status topic`,
  ),
  name: z.string().optional(),
  kind: z.enum(DEVICE_KINDS),
  role: z.enum(DEVICE_ROLES).describe('Place of the device in the energy balance (docs/DESIGN.md §2)'),
  fuel: z.enum(FUELS).optional().describe('Fuel burned, for Scope 1 (gensets, boilers, CHP, fuel cells)'),
  /** Electrical efficiency used to estimate fuel from energy when no fuel meter exists. */
  fuel_efficiency: z.number().positive().max(1).optional(),
  /** Nameplate rating, used by the simulator and to bound plausible power. */
  rated_kw: z.number().positive().optional(),
  round_trip_efficiency: z
    .number()
    .positive()
    .max(1)
    .optional()
    .describe(
      'Battery (battery_charge device): energy out / energy in; charge × (1 − this) is counted as storage losses, part of consumption (default 0.9, flagged)',
    ),
  counter_wrap_kwh: z
    .number()
    .positive()
    .optional()
    .describe(
      'Modulus of an energy register that rolls over (e.g. 1000000 for a 6-digit kWh display): a step past it is energy (counter_wrap), not a reset',
    ),
})
export type Device = z.infer<typeof deviceSchema>

export const certificateSchema = z.strictObject({
  id: z.string().min(1),
  type: z.enum(['REC', 'I-REC', 'PPA', 'GO', 'REGO', 'GC']).default('I-REC'),
  mwh: z.number().positive(),
  from: z.iso.date().describe('First day covered (YYYY-MM-DD, local)'),
  to: z.iso.date().describe('Last day covered (YYYY-MM-DD, local)'),
  technology: z.string().default('solar'),
  production_hour: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      'Start of the production hour of an hour-stamped instrument (a granular certificate, GC): it covers import of that hour only and counts towards hourly CFE',
    ),
})
export type Certificate = z.infer<typeof certificateSchema>

export const plantSchema = z.strictObject({
  id: id.refine((v) => v !== SHARED_PLANT_ID, `"${SHARED_PLANT_ID}" is reserved for shared cluster assets`),
  name: z.string().min(1),
  tenant: id.describe('Company that owns the plant; API keys can be limited to one tenant'),
  devices: z.array(deviceSchema).min(1),
  certificates: z.array(certificateSchema).default([]),
})
export type Plant = z.infer<typeof plantSchema>

export const sharedDeviceSchema = deviceSchema.extend({
  allocation: z.discriminatedUnion('method', [
    z.strictObject({
      method: z.literal('fixed_shares'),
      shares: z.record(id, z.number().min(0).max(1)).describe('Plant id → share of the output (sum ≤ 1)'),
    }),
    z.strictObject({
      method: z.literal('metered'),
      meters: z.record(id, id).describe('Plant id → device id of the delivery meter at that plant'),
    }),
  ]),
})
export type SharedDevice = z.infer<typeof sharedDeviceSchema>

export const identitySchema = z.strictObject({
  username: z.string().min(1).max(128),
  password_hash: z.string().startsWith('scrypt$', 'must be an scrypt hash from `kawasan hash-password`'),
  /** gateway: publishes under its plant only; ingest: may subscribe to telemetry. */
  role: z.enum(['gateway', 'ingest', 'observer']).default('gateway'),
  plant: id.optional().describe('For gateways: the plant (or "shared") it publishes for'),
  client_id_prefixes: z
    .array(z.string().min(1).max(128))
    .min(1)
    .optional()
    .describe(
      'MQTT client ids of this identity: each id is a prefix itself or a prefix followed by "-..." . When given, the identity may use no other client id and no other identity may use these (docs/SECURITY.md)',
    ),
})
export type Identity = z.infer<typeof identitySchema>

const siteModelShape = z.strictObject({
  cluster: z.strictObject({
    id,
    name: z.string().min(1),
    timezone: z.string().refine(isIanaZone, 'must be an IANA time zone such as Asia/Jakarta'),
    grid_region: z.string().min(1).describe('Grid region key in the emission factor data (e.g. ID-JAMALI)'),
    shared_devices: z.array(sharedDeviceSchema).default([]),
    share_cluster_totals: z
      .boolean()
      .default(false)
      .describe('Whether tenant-limited API keys may see cluster totals (the estate chooses to share)'),
  }),
  plants: z.array(plantSchema).min(1),
  identities: z.array(identitySchema).default([]),
  targets: z.array(targetSchema).default([]).describe('Emission reduction targets (docs/TARGETS.md)'),
})
type SiteModelShape = z.infer<typeof siteModelShape>

export const siteModelSchema = siteModelShape.superRefine((model, ctx) => {
  const plantIds = new Set<string>()
  model.plants.forEach((plant, i) => {
    if (plantIds.has(plant.id))
      ctx.addIssue({
        code: 'custom',
        path: ['plants', i, 'id'],
        message: `duplicate plant id "${plant.id}"`,
      })
    plantIds.add(plant.id)
    const deviceIds = new Set<string>()
    plant.devices.forEach((device, j) => {
      if (deviceIds.has(device.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['plants', i, 'devices', j, 'id'],
          message: `duplicate device id "${device.id}" in plant ${plant.id}`,
        })
      }
      deviceIds.add(device.id)
    })
  })
  checkAllocations(model, plantIds, ctx)
  checkCertificateIds(model, ctx)
  checkClientIdPrefixes(model, ctx)
  checkTargets(model.targets, model.plants, ctx)
  model.identities.forEach((identity, i) => {
    if (identity.role === 'gateway' && !identity.plant) {
      ctx.addIssue({
        code: 'custom',
        path: ['identities', i, 'plant'],
        message: 'a gateway identity needs the plant it publishes for',
      })
    } else if (identity.plant && identity.plant !== SHARED_PLANT_ID && !plantIds.has(identity.plant)) {
      ctx.addIssue({
        code: 'custom',
        path: ['identities', i, 'plant'],
        message: `unknown plant "${identity.plant}"`,
      })
    }
  })
})

export type SiteModel = z.infer<typeof siteModelSchema>

type Ctx = z.core.$RefinementCtx<unknown>

/** Tolerance for shares written as decimals (0.1 + 0.2 is not exactly 0.3). */
const SHARE_EPSILON = 1e-9

/**
 * A shared asset's output is split among plants: a share given to a plant that does not exist, or
 * shares adding up to more than the whole, would count the same kWh twice in the cluster's
 * renewable energy (GHG Protocol Scope 2: each MWh is claimed once; docs/SITE-MODEL.md).
 */
function checkAllocations(model: SiteModelShape, plantIds: ReadonlySet<string>, ctx: Ctx): void {
  const devicesOf = new Map(model.plants.map((p) => [p.id, new Set(p.devices.map((d) => d.id))]))
  model.cluster.shared_devices.forEach((device, i) => {
    const at = ['cluster', 'shared_devices', i, 'allocation']
    const a = device.allocation
    const targets = a.method === 'fixed_shares' ? Object.keys(a.shares) : Object.keys(a.meters)
    const key = a.method === 'fixed_shares' ? 'shares' : 'meters'
    for (const plant of targets) {
      if (!plantIds.has(plant)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, key, plant],
          message: `plant "${plant}" is not in the site model (plants: ${[...plantIds].join(', ')})`,
        })
      }
    }
    if (a.method === 'fixed_shares') {
      const sum = Object.values(a.shares).reduce((x, y) => x + y, 0)
      if (sum > 1 + SHARE_EPSILON) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'shares'],
          message: `shares of ${device.id} add up to ${formatPct(sum)}; they must add up to 100 % or less, or the estate counts more energy than ${device.id} produced`,
        })
      }
    } else {
      for (const [plant, meter] of Object.entries(a.meters)) {
        const devices = devicesOf.get(plant)
        if (devices && !devices.has(meter)) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'meters', plant],
            message: `plant ${plant} has no device "${meter}" to meter deliveries from ${device.id}`,
          })
        }
      }
    }
  })
}

function formatPct(share: number): string {
  return `${Math.round(share * 1000) / 10} %`
}

/** A certificate (I-REC, GO, PPA...) is retired once: the same id on two plants would be claimed twice. */
function checkCertificateIds(model: SiteModelShape, ctx: Ctx): void {
  const seen = new Map<string, string>()
  model.plants.forEach((plant, i) => {
    plant.certificates.forEach((cert, j) => {
      const first = seen.get(cert.id)
      if (first) {
        ctx.addIssue({
          code: 'custom',
          path: ['plants', i, 'certificates', j, 'id'],
          message: `certificate "${cert.id}" is already listed under ${first}; a certificate can be claimed once in the estate`,
        })
      } else seen.set(cert.id, `plant ${plant.id}`)
    })
  })
}

/** A client id prefix names one identity: two owners would let one take over the other's sessions. */
function checkClientIdPrefixes(model: SiteModelShape, ctx: Ctx): void {
  const prefixOwner = new Map<string, string>()
  model.identities.forEach((identity, i) => {
    identity.client_id_prefixes?.forEach((prefix, j) => {
      const owner = prefixOwner.get(prefix)
      if (owner !== undefined && owner !== identity.username)
        ctx.addIssue({
          code: 'custom',
          path: ['identities', i, 'client_id_prefixes', j],
          message: `client id prefix "${prefix}" is already declared by identity ${owner}`,
        })
      prefixOwner.set(prefix, identity.username)
    })
  })
}

function isIanaZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

export interface DeviceRef {
  cluster: string
  plant: string
  device: Device
}

/** Precomputed lookups over a validated site model. */
export class SiteIndex {
  private readonly devices = new Map<string, DeviceRef>()

  constructor(readonly model: SiteModel) {
    const cluster = model.cluster.id
    for (const plant of model.plants) {
      for (const device of plant.devices)
        this.devices.set(key(plant.id, device.id), { cluster, plant: plant.id, device })
    }
    for (const device of model.cluster.shared_devices) {
      this.devices.set(key(SHARED_PLANT_ID, device.id), { cluster, plant: SHARED_PLANT_ID, device })
    }
  }

  get clusterId(): string {
    return this.model.cluster.id
  }

  device(cluster: string, plant: string, device: string): DeviceRef | undefined {
    if (cluster !== this.model.cluster.id) return undefined
    return this.devices.get(key(plant, device))
  }

  allDevices(): DeviceRef[] {
    return [...this.devices.values()]
  }

  identity(username: string): Identity | undefined {
    return this.model.identities.find((i) => i.username === username)
  }
}

function key(plant: string, device: string): string {
  return `${plant}\u0000${device}`
}
