/**
 * The site model (docs/DESIGN.md §2): cluster → plants → devices, plus the MQTT identities allowed to talk
 * to the broker. One YAML/JSON file, validated once with zod; lookups are precomputed.
 */
import { z } from 'zod'
import { marketProblem } from './certificate-register/quality.js'
import { DEVICE_ROLES, type DeviceRole } from './device-roles.js'
import { METRIC_NAMES, METRICS } from './metric-vocabulary.js'
import { checkTargets, targetSchema } from './site-model-targets.js'
import { SPARKPLUG_ID_PATTERN } from './sparkplug-topics.js'
import { ID_PATTERN, ID_RULE } from './topics.js'
import { conversionFactor, unitsFor } from './unit-conversion.js'

const id = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`)

/** Plant id under which shared cluster assets (e.g. a cluster solar farm) publish. */
export const SHARED_PLANT_ID = 'shared'

export const DEVICE_KINDS = ['meter', 'inverter', 'genset', 'boiler', 'battery', 'h2'] as const
export { DEVICE_ROLES, type DeviceRole } from './device-roles.js'
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

/** Roles that carry heat (kWh thermal), not electricity: kept out of the electricity balance. */
export const THERMAL_ROLES = ['boiler', 'heat_import'] as const
/** Roles whose devices carry no energy: rollups and balances leave them out (docs/ENPI.md). */
export const NON_ENERGY_ROLES = ['production', 'weather'] as const
export function isEnergyRole(role: DeviceRole): boolean {
  return role !== 'production' && role !== 'weather'
}

export function isThermalRole(role: DeviceRole): role is (typeof THERMAL_ROLES)[number] {
  return role === 'boiler' || role === 'heat_import'
}

/** Tolerance for shares written as decimals (0.1 + 0.2 is not exactly 0.3). */
const SHARE_EPSILON = 1e-9

const blendComponentSchema = z.strictObject({
  fuel: z.enum(FUELS),
  share: z.number().positive().max(1).describe('Share of the blend (by `blend_basis`), 0-1'),
})

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
  blend: z
    .array(blendComponentSchema)
    .min(1)
    .optional()
    .describe(
      'Boiler: fuels burned together (co-firing), shares summing to 1, e.g. [{fuel: biomass_wood, share: 0.8}, {fuel: coal_sub_bituminous, share: 0.2}]',
    ),
  blend_basis: z
    .enum(['mass', 'energy'])
    .optional()
    .describe('Boiler: whether blend shares are by mass (feeder, weighbridge; default) or by energy (NCV)'),
  thermal_efficiency: z
    .number()
    .positive()
    .max(1)
    .optional()
    .describe(
      'Boiler: heat delivered / fuel energy in (NCV), used to estimate fuel from the heat meter when the fuel is not metered',
    ),
  heat_factor: z
    .string()
    .min(1)
    .optional()
    .describe(
      "heat_import: key of the steam/heat supplier's emission factor in the factor set's `thermal` section (default DEFAULT-NG-BOILER, flagged)",
    ),
})
export type Device = z.infer<typeof deviceSchema>

/** Instrument types (docs/CARBON-ACCOUNTING.md "Certificates"); GC: a granular, hour-stamped certificate. */
export const CERTIFICATE_TYPES = ['REC', 'I-REC', 'PPA', 'GO', 'REGO', 'GC'] as const

export const certificateSchema = z.strictObject({
  id: z.string().min(1),
  type: z.enum(CERTIFICATE_TYPES).default('I-REC'),
  mwh: z.number().positive(),
  from: z.iso.date().describe('First day covered (YYYY-MM-DD, local)'),
  to: z.iso.date().describe('Last day covered (YYYY-MM-DD, local)'),
  technology: z.string().default('solar'),
  market: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Market boundary (country or market code, e.g. ID, EU-AIB): must be the market of the cluster grid region (docs/CARBON-ACCOUNTING.md "Quality criteria")',
    ),
  production_hour: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      'Start of the production hour of an hour-stamped instrument (a granular certificate, GC): it covers import of that hour only and counts towards hourly CFE',
    ),
})
export type Certificate = z.infer<typeof certificateSchema>

/** Relevant variables of a plant's energy baseline (docs/ENPI.md): production always, cooling degree days optionally. */
export const ENPI_VARIABLES = ['production', 'cdd'] as const
export type EnpiVariable = (typeof ENPI_VARIABLES)[number]

export const plantEnpiSchema = z.strictObject({
  variables: z
    .array(z.enum(ENPI_VARIABLES))
    .min(1)
    .default(['production'])
    .refine((v) => v.includes('production'), 'must include production')
    .refine((v) => new Set(v).size === v.length, 'lists a variable twice')
    .describe(
      'Relevant variables of the energy baseline regression: [production] or [production, cdd] (cooling degree days)',
    ),
  cdd_base_c: z
    .number()
    .min(0)
    .max(35)
    .default(18)
    .describe('Base temperature of cooling degree days, °C: a day counts max(0, daily mean − base)'),
  temperature: z
    .strictObject({
      plant: id.describe(
        'Plant of the sensor (this plant or another, e.g. the one with the weather station)',
      ),
      device: id.describe('Device that sends ambient_temp_c'),
    })
    .optional()
    .describe(
      "Sensor whose ambient_temp_c is the plant's outdoor temperature (e.g. another plant's weather station); omitted: every device of the plant that sends ambient_temp_c",
    ),
})
export type PlantEnpi = z.infer<typeof plantEnpiSchema>

export const plantSchema = z.strictObject({
  id: id.refine((v) => v !== SHARED_PLANT_ID, `"${SHARED_PLANT_ID}" is reserved for shared cluster assets`),
  name: z.string().min(1),
  tenant: id.describe('Company that owns the plant; API keys can be limited to one tenant'),
  devices: z.array(deviceSchema).min(1),
  certificates: z.array(certificateSchema).default([]),
  enpi: plantEnpiSchema
    .optional()
    .describe('Energy baseline settings (docs/ENPI.md); omitted: production only, CDD base 18 °C'),
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

const sparkplugId = z
  .string()
  .regex(SPARKPLUG_ID_PATTERN, 'must be 1 to 128 characters without "/", "+" or "#"')

export const sparkplugMetricSchema = z.strictObject({
  metric: z.enum(METRIC_NAMES).describe('Our metric (shared/metric-vocabulary.ts) the value is stored as'),
  unit: z
    .string()
    .optional()
    .describe(
      'Unit the gateway reports in (e.g. W, Wh, MWh); converted to the metric unit. Omitted: already in our unit',
    ),
})

export const sparkplugDeviceSchema = z.strictObject({
  device: sparkplugId
    .optional()
    .describe("Sparkplug device id (DBIRTH/DDATA); omitted: the edge node's own metrics (NBIRTH/NDATA)"),
  to: id.describe('Device id of the plant the metrics belong to'),
  metrics: z
    .record(z.string().min(1).max(256), sparkplugMetricSchema)
    .describe('Sparkplug metric name → our metric; other metrics are counted and ignored'),
})

export const sparkplugEdgeNodeSchema = z.strictObject({
  group: sparkplugId.describe('Sparkplug group id'),
  edge_node: sparkplugId.describe('Sparkplug edge node id'),
  plant: id.describe('Plant (or "shared") whose gateway identities may publish for this edge node'),
  devices: z.array(sparkplugDeviceSchema).min(1),
})
export type SparkplugEdgeNode = z.infer<typeof sparkplugEdgeNodeSchema>
export type SparkplugDeviceMapping = z.infer<typeof sparkplugDeviceSchema>

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
  sparkplug: z
    .array(sparkplugEdgeNodeSchema)
    .default([])
    .describe(
      'Sparkplug B edge nodes (gateways such as Ignition Edge) and what their metrics are (docs/SPARKPLUG.md)',
    ),
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
  model.plants.forEach((plant, i) => {
    plant.devices.forEach((device, j) => {
      checkThermalDevice(device, ['plants', i, 'devices', j], ctx)
    })
  })
  model.plants.forEach((plant, i) => {
    const t = plant.enpi?.temperature
    if (t && !model.plants.some((p) => p.id === t.plant && p.devices.some((d) => d.id === t.device)))
      ctx.addIssue({
        code: 'custom',
        path: ['plants', i, 'enpi', 'temperature'],
        message: `no device "${t.device}" in plant "${t.plant}" to read the outdoor temperature from`,
      })
  })
  model.cluster.shared_devices.forEach((device, i) => {
    if (device.role === 'weather' || device.role === 'production')
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'shared_devices', i, 'role'],
        message: `a shared asset carries energy to allocate, role ${device.role} does not: declare the device under a plant (other plants point to a weather station with enpi.temperature)`,
      })
    if (isThermalRole(device.role))
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'shared_devices', i, 'role'],
        message: `a shared asset with role ${device.role} is not supported yet: declare the boiler or heat meter under the plant that uses the heat`,
      })
  })
  checkAllocations(model, plantIds, ctx)
  checkCertificateIds(model, ctx)
  checkClientIdPrefixes(model, ctx)
  checkSparkplug(model, ctx)
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

/**
 * Heat settings belong to heat devices: a blend or thermal efficiency on a genset, or a heat factor
 * on a grid meter, would be ignored silently. A blend's shares add up to 100 % (each kg or MJ of
 * fuel is counted once); a boiler names its fuel or its blend, or its Scope 1 cannot be computed.
 */
function checkThermalDevice(device: Device, at: (string | number)[], ctx: Ctx): void {
  const issue = (key: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [...at, key], message })
  if (device.role !== 'boiler') {
    for (const key of ['blend', 'blend_basis', 'thermal_efficiency'] as const)
      if (device[key] !== undefined) issue(key, `${key} applies to role boiler only, not ${device.role}`)
  }
  if (device.role !== 'heat_import' && device.heat_factor !== undefined)
    issue('heat_factor', `heat_factor applies to role heat_import only, not ${device.role}`)
  if (device.role === 'heat_import' && device.fuel !== undefined)
    issue('fuel', 'purchased heat burns no fuel on site (its emissions are Scope 2 through heat_factor)')
  if (device.role !== 'boiler') return
  if (device.blend) {
    const sum = device.blend.reduce((s, b) => s + b.share, 0)
    if (Math.abs(sum - 1) > SHARE_EPSILON)
      issue('blend', `blend shares of ${device.id} add up to ${formatPct(sum)}; they must add up to 100 %`)
    const fuels = device.blend.map((b) => b.fuel)
    if (new Set(fuels).size !== fuels.length) issue('blend', 'a fuel is listed twice in the blend')
    if (device.fuel !== undefined) issue('fuel', 'give either fuel or blend, not both')
  } else if (device.fuel === undefined) {
    issue('fuel', 'a boiler needs its fuel, or a blend of fuels, for its Scope 1 emissions')
  }
}

function formatPct(share: number): string {
  return `${Math.round(share * 1000) / 10} %`
}

/** A certificate (I-REC, GO, PPA...) is retired once: the same id on two plants would be claimed twice. */
function checkCertificateIds(model: SiteModelShape, ctx: Ctx): void {
  const seen = new Map<string, string>()
  model.plants.forEach((plant, i) => {
    plant.certificates.forEach((cert, j) => {
      const wrongMarket = cert.market && marketProblem(cert.market, model.cluster.grid_region)
      if (wrongMarket)
        ctx.addIssue({
          code: 'custom',
          path: ['plants', i, 'certificates', j, 'market'],
          message: `certificate "${cert.id}": ${wrongMarket.message}`,
        })
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

/** Each edge node once, onto devices that exist, in units that convert to ours (docs/SITE-MODEL.md). */
function checkSparkplug(model: SiteModelShape, ctx: Ctx): void {
  const devicesOf = new Map(model.plants.map((p) => [p.id, new Set(p.devices.map((d) => d.id))]))
  devicesOf.set(SHARED_PLANT_ID, new Set(model.cluster.shared_devices.map((d) => d.id)))
  const nodes = new Set<string>()
  model.sparkplug.forEach((node, i) => {
    const at = ['sparkplug', i]
    const nodeKey = `${node.group}/${node.edge_node}`
    if (nodes.has(nodeKey))
      ctx.addIssue({
        code: 'custom',
        path: [...at, 'edge_node'],
        message: `edge node ${nodeKey} is listed twice`,
      })
    nodes.add(nodeKey)
    const devices = devicesOf.get(node.plant)
    if (!devices) {
      ctx.addIssue({ code: 'custom', path: [...at, 'plant'], message: `unknown plant "${node.plant}"` })
      return
    }
    const seen = new Set<string>()
    node.devices.forEach((d, j) => {
      const name = d.device ?? '(edge node metrics)'
      if (seen.has(name))
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'devices', j, 'device'],
          message: `${name} is mapped twice`,
        })
      seen.add(name)
      if (!devices.has(d.to))
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'devices', j, 'to'],
          message: `plant ${node.plant} has no device "${d.to}"`,
        })
      for (const [metricName, m] of Object.entries(d.metrics)) {
        if (conversionFactor(m.metric, m.unit) === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'devices', j, 'metrics', metricName, 'unit'],
            message: `${m.metric} is in ${METRICS[m.metric].unit || '(no unit)'}; "${m.unit}" does not convert to it (units: ${unitsFor(m.metric).join(', ')})`,
          })
      }
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
  private readonly sparkplugNodes = new Map<string, SparkplugEdgeNode>()

  constructor(readonly model: SiteModel) {
    const cluster = model.cluster.id
    for (const plant of model.plants) {
      for (const device of plant.devices)
        this.devices.set(key(plant.id, device.id), { cluster, plant: plant.id, device })
    }
    for (const device of model.cluster.shared_devices) {
      this.devices.set(key(SHARED_PLANT_ID, device.id), { cluster, plant: SHARED_PLANT_ID, device })
    }
    for (const node of model.sparkplug) this.sparkplugNodes.set(key(node.group, node.edge_node), node)
  }

  /** The site model's entry for a Sparkplug edge node, if it has one. */
  sparkplugNode(group: string, edgeNode: string): SparkplugEdgeNode | undefined {
    return this.sparkplugNodes.get(key(group, edgeNode))
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
