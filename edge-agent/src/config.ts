/**
 * The agent's one YAML config file, declared once as a zod schema whose fields carry descriptions
 * and defaults. Every problem is reported together, each with its line in the file, the field, and
 * the fix (and a "did you mean" for an unknown key), because the reader is a plant engineer at a gateway, not a developer.
 */
import { readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { z } from 'zod'
import { describeIssues, problemsMessage } from '../../shared/config-issues.js'
import { parseConfigText } from '../../shared/config-source.js'
import { DEVICE_ROLES } from '../../shared/device-roles.js'
import { METRIC_NAMES, type MetricName } from '../../shared/metric-vocabulary.js'
import { ID_PATTERN, ID_RULE } from '../../shared/topics.js'
import { AgentError } from './errors.js'
import { PROFILE_NAMES, PROFILES, type RegisterSpec } from './profiles.js'
import { REGISTER_TYPES, WORD_ORDERS } from './register-decode.js'
import { acceptedUnits, unitFactor } from './units.js'

export const PASSWORD_ENV = 'KAWASAN_AGENT_PASSWORD'

const id = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`)
const seconds = (def: number, what: string) =>
  z.number().positive('must be a positive number of seconds').default(def).describe(what)

const registerSchema = z
  .strictObject({
    metric: z.enum(METRIC_NAMES as [MetricName, ...MetricName[]], {
      error: `must be a metric of the vocabulary: ${METRIC_NAMES.join(', ')}`,
    }),
    address: z.number().int().min(0).max(65535).describe('0-based register address (manual 40001 → 0)'),
    function: z
      .enum(['holding', 'input'])
      .default('holding')
      .describe('holding (FC3) or input (FC4) registers'),
    type: z.enum(REGISTER_TYPES).default('float32'),
    word_order: z
      .enum([...WORD_ORDERS, 'big', 'little'])
      .default('ABCD')
      .transform((v) => (v === 'big' ? 'ABCD' : v === 'little' ? 'CDAB' : v))
      .describe('ABCD (big, high word first) or CDAB (little, low word first); BADC/DCBA swap bytes'),
    scale: z.number().default(1).describe('Multiplier applied to the raw value before the unit conversion'),
    unit: z
      .string()
      .optional()
      .describe('Unit the device reports in, e.g. W or Wh; converted to the metric unit'),
  })
  .superRefine((r, ctx) => {
    if (unitFactor(r.metric, r.unit) === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['unit'],
        message: `"${r.unit}" cannot be converted to ${r.metric}; use one of ${acceptedUnits(r.metric).join(', ')}`,
      })
    }
  })

const deviceCommon = {
  id,
  role: z.enum(DEVICE_ROLES, { error: `must be one of ${DEVICE_ROLES.join(', ')}` }),
  poll_interval_s: seconds(10, 'Seconds between polls; polls align to the wall clock'),
  timeout_ms: z.number().int().min(50).max(60_000).default(1000).describe('Per-request timeout'),
  backoff_max_s: seconds(300, 'Longest wait between retries of a failing device'),
}

const modbusMap = {
  profile: z.enum(PROFILE_NAMES, { error: `must be one of ${PROFILE_NAMES.join(', ')}` }).optional(),
  registers: z.array(registerSchema).min(1).optional(),
  max_gap: z
    .number()
    .int()
    .min(0)
    .max(100)
    .default(8)
    .describe(
      'Registers read together when at most this many unused ones lie between (0: one read per value)',
    ),
}

const modbusTcp = z.strictObject({
  ...deviceCommon,
  driver: z.literal('modbus-tcp'),
  host: z.string().min(1, 'give the IP address or host name of the meter or Modbus TCP gateway'),
  port: z.number().int().min(1).max(65535).default(502),
  unit_id: z.number().int().min(0).max(255).default(1),
  ...modbusMap,
})

const modbusRtu = z.strictObject({
  ...deviceCommon,
  driver: z.literal('modbus-rtu'),
  serial_path: z.string().min(1, 'give the serial device, e.g. /dev/ttyUSB0'),
  baud_rate: z.number().int().positive().default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
  stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
  unit_id: z.number().int().min(1).max(247).default(1),
  ...modbusMap,
})

const sunspec = z.strictObject({
  ...deviceCommon,
  driver: z.literal('sunspec'),
  host: z.string().min(1, 'give the IP address of the inverter'),
  port: z.number().int().min(1).max(65535).default(502),
  unit_id: z.number().int().min(0).max(255).default(1),
  base_address: z
    .union([z.literal(0), z.literal(40000), z.literal(50000)])
    .optional()
    .describe('Where the "SunS" marker is; found automatically when left out'),
})

const simulator = z.strictObject({
  ...deviceCommon,
  driver: z.literal('simulator'),
  rated_kw: z.number().positive().default(100).describe('Nameplate power of the simulated device'),
  seed: z.string().optional().describe('Noise seed; defaults to the device id'),
})

const deviceSchema = z.discriminatedUnion('driver', [modbusTcp, modbusRtu, sunspec, simulator], {
  error: 'driver must be one of modbus-tcp, modbus-rtu, sunspec, simulator',
})

export const agentConfigSchema = z
  .strictObject({
    cluster: id.describe('Cluster id, as in the site model'),
    plant: id.describe('Plant id, as in the site model'),
    agent_id: id.default('agent').describe('Id under which the agent publishes its own status (last will)'),
    time_zone: z.string().default('Asia/Jakarta').describe('IANA time zone, used by the simulator curves'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    broker: z.strictObject({
      url: z
        .string()
        .regex(/^(mqtts?|wss?|tcp|ssl):\/\/.+/, 'must be a URL such as mqtts://broker.example.com:8883')
        .describe('MQTT broker'),
      username: z.string().optional(),
      password: z.string().optional().describe(`Better set through the environment variable ${PASSWORD_ENV}`),
      client_id: z.string().min(1).max(128).optional().describe('Defaults to kawasan-<cluster>-<plant>'),
      keepalive_s: z.number().int().min(5).max(600).default(30),
      reconnect_s: z
        .number()
        .positive()
        .default(1)
        .describe(
          'First delay before reconnecting after a lost link or a refused login; doubles per failure',
        ),
      reconnect_max_s: z
        .number()
        .positive()
        .default(60)
        .describe('Longest delay between reconnect attempts (with jitter); the agent never stops retrying'),
      tls: z
        .strictObject({
          ca: z.string().optional().describe('PEM file of the CA that signed the broker certificate'),
          cert: z.string().optional().describe('PEM client certificate (mutual TLS)'),
          key: z.string().optional().describe('PEM private key of the client certificate'),
          reject_unauthorized: z.boolean().default(true).describe('Never false in production'),
        })
        .optional(),
    }),
    buffer: z
      .strictObject({
        dir: z
          .string()
          .default('/var/lib/kawasan-agent')
          .describe('Where the store-and-forward buffer lives'),
        max_mb: z
          .number()
          .positive()
          .default(64)
          .describe(
            'Size cap; past it the oldest samples are dropped and counted (pending samples also take ~250 B of RAM each)',
          ),
        fsync: z
          .enum(['batch', 'interval', 'off'])
          .default('batch')
          .describe(
            'batch: fsync each poll batch before publishing it (power loss loses nothing that was published)',
          ),
        fsync_interval_ms: z.number().int().min(10).default(1000),
      })
      .prefault({}),
    drain: z
      .strictObject({
        rate: z.number().positive().default(500).describe('Backlog samples per second sent after reconnect'),
        max_readings_per_message: z.number().int().min(1).max(5000).default(500),
        max_inflight: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(16)
          .describe('Backlog messages awaiting PUBACK'),
      })
      .prefault({}),
    clock: z
      .strictObject({
        check: z
          .enum(['auto', 'timesyncd', 'off'])
          .default('auto')
          .describe('auto: timesyncd flag when present, else only a plausibility floor; off: never flag'),
        synced_file: z.string().default('/run/systemd/timesync/synchronized'),
        min_valid_time: z.iso
          .date()
          .default('2025-01-01')
          .describe('A clock before this date is unsynchronised'),
      })
      .prefault({}),
    status: z
      .strictObject({
        interval_s: seconds(30, 'How often the retained status and the status file are refreshed'),
        file: z.string().optional().describe('Defaults to <buffer.dir>/status.json'),
      })
      .prefault({}),
    memory: z
      .strictObject({
        heap_step_mb: z
          .number()
          .min(0)
          .max(1024)
          .default(2)
          .describe(
            'Run a full garbage collection once the heap has grown this much past what the last one kept (V8 waits for 8 MB and keeps the pages); 0 leaves it to V8',
          ),
      })
      .prefault({}),
    remote_config: z
      .strictObject({
        public_key: z
          .string()
          .regex(/^[A-Za-z0-9+/]{40,100}={0,2}$/, 'must be the base64 key `kawasan gateway add` printed')
          .describe('Estate Ed25519 public key (base64 SPKI); configs it signed are applied remotely'),
      })
      .optional()
      .describe('Accept signed configs from the estate on the agent config topic (unset: never)'),
    devices: z.array(deviceSchema).min(1, 'list at least one device'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>()
    const serial = new Map<string, { baud_rate: number; parity: string; index: number }>()
    cfg.devices.forEach((d, i) => {
      if (seen.has(d.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'id'],
          message: `"${d.id}" is already used by devices[${seen.get(d.id)}]; ids must be unique`,
        })
      }
      seen.set(d.id, i)
      if (d.driver === 'modbus-tcp' || d.driver === 'modbus-rtu') {
        if ((d.profile === undefined) === (d.registers === undefined)) {
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'profile'],
            message: `give either profile (${PROFILE_NAMES.join(', ')}) or a registers list, not both or neither`,
          })
        }
      }
      if (d.driver === 'modbus-rtu') {
        const prev = serial.get(d.serial_path)
        if (prev && (prev.baud_rate !== d.baud_rate || prev.parity !== d.parity)) {
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'baud_rate'],
            message: `${d.serial_path} is used by devices[${prev.index}] with ${prev.baud_rate} baud/${prev.parity} parity; all devices on one bus must use the same settings`,
          })
        }
        if (!prev) serial.set(d.serial_path, { baud_rate: d.baud_rate, parity: d.parity, index: i })
      }
    })
  })

export type AgentConfig = z.infer<typeof agentConfigSchema>
export type DeviceConfig = AgentConfig['devices'][number]
export type ModbusDeviceConfig = Extract<DeviceConfig, { driver: 'modbus-tcp' | 'modbus-rtu' }>

/** The register map of a Modbus device: its profile, or its own list. */
export function registerMap(device: ModbusDeviceConfig): RegisterSpec[] {
  if (device.registers) return device.registers as RegisterSpec[]
  return device.profile ? [...PROFILES[device.profile]] : []
}

/** Resolved file locations, relative paths taken from the config file's directory. */
export function statusFilePath(cfg: AgentConfig): string {
  return cfg.status.file ?? join(cfg.buffer.dir, 'status.json')
}

export interface LoadAgentConfigOptions {
  env?: NodeJS.ProcessEnv
  /** Base for relative paths (buffer dir, TLS files); defaults to the config file's directory. */
  baseDir?: string
}

/** Parses and validates config text; `file` is only used in messages. */
export function parseAgentConfig(
  text: string,
  file: string,
  options: LoadAgentConfigOptions = {},
): AgentConfig {
  const source = parseConfigText(text, file)
  if (source.syntaxErrors.length > 0) {
    const lines = source.syntaxErrors.map((e) => `  - ${e}`)
    throw new AgentError('AGENT_CONFIG_SYNTAX', `${file} is not valid YAML:\n${lines.join('\n')}`)
  }
  const raw = (source.data ?? {}) as Record<string, unknown>
  const env = options.env ?? process.env
  const password = env[PASSWORD_ENV]
  const sourceOf = new Map<string, string>()
  if (password && typeof raw.broker === 'object' && raw.broker !== null) {
    ;(raw.broker as Record<string, unknown>).password = password
    sourceOf.set('broker.password', `environment variable ${PASSWORD_ENV}`)
  }
  const result = agentConfigSchema.safeParse(raw)
  if (!result.success) {
    const lines = describeIssues(result.error.issues, {
      schema: agentConfigSchema,
      data: raw,
      source,
      sourceOf,
    })
    throw new AgentError(
      'AGENT_CONFIG_INVALID',
      problemsMessage(file, lines, 'fix them and run `kawasan-agent check` again'),
    )
  }
  const cfg = result.data
  const base = options.baseDir
  if (base) {
    cfg.buffer.dir = resolveFrom(base, cfg.buffer.dir)
    if (cfg.status.file) cfg.status.file = resolveFrom(base, cfg.status.file)
    const tls = cfg.broker.tls
    if (tls) {
      if (tls.ca) tls.ca = resolveFrom(base, tls.ca)
      if (tls.cert) tls.cert = resolveFrom(base, tls.cert)
      if (tls.key) tls.key = resolveFrom(base, tls.key)
    }
  }
  return cfg
}

export function loadAgentConfig(file: string, options: LoadAgentConfigOptions = {}): AgentConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new AgentError(
      'AGENT_CONFIG_UNREADABLE',
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); create one with \`kawasan-agent init\` or pass --config <file>`,
    )
  }
  return parseAgentConfig(text, file, { ...options, baseDir: options.baseDir ?? join(file, '..') })
}

function resolveFrom(base: string, p: string): string {
  return isAbsolute(p) ? p : join(base, p)
}
