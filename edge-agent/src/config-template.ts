/**
 * The commented config `kawasan-agent init` writes (Telegraf-style: the comments carry the
 * operational guidance). examples/agent.yaml is this template for cikarang / plant-a (a test keeps
 * them equal).
 */
export interface TemplateOptions {
  cluster: string
  plant: string
  brokerUrl: string
  bufferDir: string
}

export function renderConfigTemplate(o: TemplateOptions): string {
  return `# Kawasan edge agent configuration. Check it with:  kawasan-agent check --config <this file>
# Ids use lower-case letters, digits, "-" and "_" and must match the site model of the cluster.
cluster: ${o.cluster}
plant: ${o.plant}
# The agent's own status (with the MQTT last will) goes to kawasan/v1/<cluster>/<plant>/<agent_id>/status.
agent_id: agent
# Time zone of the plant (used by the simulator's day curves).
time_zone: Asia/Jakarta
log_level: info

broker:
  # mqtts:// with TLS in production (port 8883); mqtt:// only on a trusted LAN.
  url: ${o.brokerUrl}
  # The gateway's identity in the broker: it may publish under its own plant only.
  username: gw-${o.plant}
  # Prefer the environment variable KAWASAN_AGENT_PASSWORD (the systemd unit reads it from
  # /etc/kawasan/agent.env) to a password in this file.
  # password: change-me
  keepalive_s: 30   # the broker publishes our "offline" will within 1.5 x keepalive of a lost link
  reconnect_s: 1       # after a lost link or any refused login: 1 s, doubling with jitter ...
  reconnect_max_s: 60  # ... up to 60 s; the agent never stops retrying and keeps buffering
  # tls:
  #   ca: /etc/kawasan/ca.pem          # CA that signed the broker certificate
  #   cert: /etc/kawasan/gateway.pem   # client certificate, for mutual TLS
  #   key: /etc/kawasan/gateway.key
  #   reject_unauthorized: true        # never false in production

buffer:
  # Every sample is written here before it is sent and removed only when the broker acknowledged
  # it (PUBACK). Put it on persistent storage (not /tmp), ideally not the SD card's boot partition.
  dir: ${o.bufferDir}
  # Size cap. At ~150 bytes per sample, 64 MB holds ~430,000 samples: 10 devices at 10 s for
  # about 5 days. Pending samples are also indexed in memory (~250 bytes each, ~100 MB at the cap),
  # so raise it only on gateways with the RAM. When full, the OLDEST samples are dropped and
  # counted (see kawasan-agent status).
  max_mb: 64
  # batch: fsync every poll batch before sending it (nothing published is lost on power loss).
  # interval: fsync every fsync_interval_ms (fewer writes on SD cards; up to that long lost on power loss).
  fsync: batch
  fsync_interval_ms: 1000

drain:
  # After an outage the backlog is sent oldest-first at this many samples per second, beside the
  # live samples. Keep it below what the broker and ingest accept per gateway.
  rate: 500
  max_readings_per_message: 500
  max_inflight: 16

clock:
  # Samples taken while the clock is not synchronised are flagged "unsync" for the backend.
  # auto: trust systemd-timesyncd's flag when it runs; always distrust a clock before min_valid_time.
  check: auto
  min_valid_time: "2025-01-01"

memory:
  # V8 collects garbage only once its heap has grown 8 MB past what it last kept, and keeps those
  # pages. The agent asks for a collection after this many MB instead (a pause of 10-30 ms a few
  # times a minute at 200 devices, ~4 MB less resident). 0 leaves it to V8.
  heap_step_mb: 2

status:
  interval_s: 30 # retained status refresh; the status file lives in buffer.dir/status.json

devices:
  # Simulated devices, so the agent can be tried without hardware. Replace them with real ones.
  # Their ids start with "sim-" so that they never share a series with a real meter or with the
  # demo's simulated fleet (whose plants use grid-main, pv-roof, ...): readings of an id the site
  # model does not list are kept as dead letters (unknown_device), never mixed into another device.
  - id: sim-grid
    role: grid_import
    driver: simulator
    rated_kw: 800
    poll_interval_s: 10
  - id: sim-pv
    role: solar_pv
    driver: simulator
    rated_kw: 300
    poll_interval_s: 10

  # A meter over Modbus TCP with a built-in register map (sdm630, pm5xxx, generic):
  # - id: grid-main
  #   role: grid_import
  #   driver: modbus-tcp
  #   host: 192.168.1.50
  #   port: 502
  #   unit_id: 1
  #   profile: pm5xxx
  #   poll_interval_s: 10
  #   timeout_ms: 1000       # per request; a dead meter is then retried with backoff
  #   backoff_max_s: 300

  # Meters on one RS-485 line share the bus; requests are serialised and a dead unit id is backed
  # off so it does not slow down the others. All devices on one serial_path need the same settings.
  # - id: chiller-1
  #   role: load
  #   driver: modbus-rtu
  #   serial_path: /dev/ttyUSB0
  #   baud_rate: 9600
  #   parity: none
  #   unit_id: 3
  #   profile: sdm630

  # Your own register map (addresses are 0-based: manual register 40001 is address 0):
  # - id: boiler-meter
  #   role: biomass
  #   driver: modbus-tcp
  #   host: 192.168.1.60
  #   unit_id: 2
  #   registers:
  #     - { metric: p_kw, address: 100, function: holding, type: int32, word_order: CDAB, unit: W }
  #     - { metric: e_import_kwh, address: 102, function: holding, type: uint32, word_order: CDAB, scale: 0.1, unit: kWh }
  #     - { metric: v_v, address: 110, function: input, type: uint16, scale: 0.1, unit: V }

  # A SunSpec inverter over Modbus TCP: the model chain is discovered (40000, 0 or 50000).
  # - id: pv-carport
  #   role: solar_pv
  #   driver: sunspec
  #   host: 192.168.1.70
  #   unit_id: 1
`
}
