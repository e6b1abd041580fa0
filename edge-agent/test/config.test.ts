import { describe, expect, it } from 'vitest'
import { loadAgentConfig, parseAgentConfig, registerMap } from '../src/config.js'
import { renderConfigTemplate } from '../src/config-template.js'

const base = `cluster: cikarang
plant: plant-a
broker:
  url: mqtt://127.0.0.1:1883
devices:
`

describe('agent config', () => {
  it('accepts the shipped example and fills in defaults', () => {
    const cfg = loadAgentConfig(new URL('../examples/agent.yaml', import.meta.url).pathname)
    expect(cfg.devices.map((d) => [d.id, d.role, d.driver])).toEqual([
      ['sim-grid', 'grid_import', 'simulator'],
      ['sim-pv', 'solar_pv', 'simulator'],
    ])
    expect(cfg.buffer.fsync).toBe('batch')
    expect(cfg.buffer.dir.endsWith('examples/data/buffer')).toBe(true) // relative to the config file
  })

  it('names the line, the field and the fix for every problem at once', () => {
    const text = `${base}  - id: Grid Main
    role: grid_import
    driver: modbus-tcp
    host: 10.0.0.5
  - id: pv
    role: sun
    driver: simulator
`
    let message = ''
    try {
      parseAgentConfig(text, 'agent.yaml')
    } catch (err) {
      expect((err as { code: string }).code).toBe('AGENT_CONFIG_INVALID')
      message = (err as Error).message
    }
    expect(message).toContain('agent.yaml:6:9 devices[0].id: must be lower-case letters')
    expect(message).toContain('agent.yaml:11:11 devices[1].role: must be one of grid_import')
  })

  it('explains an unknown driver and an unconvertible unit', () => {
    const text = `${base}  - { id: a, role: load, driver: bacnet }
  - id: b
    role: load
    driver: modbus-tcp
    host: h
    registers:
      - { metric: p_kw, address: 0, unit: furlongs }
`
    expect(() => parseAgentConfig(text, 'x.yaml')).toThrow(
      /x\.yaml:6:34 devices\[0\]\.driver: driver must be one of modbus-tcp, modbus-rtu, sunspec, simulator/,
    )
    expect(() => parseAgentConfig(text, 'x.yaml')).toThrow(
      /x\.yaml:12:43 devices\[1\]\.registers\[0\]\.unit: "furlongs" cannot be converted to p_kw; use one of W, kW, MW/,
    )
  })

  it('asks for a register map when a Modbus device has neither profile nor registers', () => {
    expect(() =>
      parseAgentConfig(`${base}  - { id: a, role: load, driver: modbus-tcp, host: h }\n`, 'x.yaml'),
    ).toThrow(
      /x\.yaml:6:5 devices\[0\]\.profile: give either profile \(sdm630, pm5xxx, generic\) or a registers list/,
    )
  })

  it('refuses misspelled keys at their line with the key probably meant, all at once', () => {
    const text = `cluster: cikarang
plant: plant-x
brokr:
  url: mqtt://127.0.0.1:1883
buffer:
  max_mbytes: 128
devices:
  - id: a
    role: load
    driver: simulator
    poll_intervall_s: 5
`
    let message = ''
    try {
      parseAgentConfig(text, 'agent.yaml')
    } catch (err) {
      expect((err as { code: string }).code).toBe('AGENT_CONFIG_INVALID')
      message = (err as Error).message
    }
    expect(message.split('\n')).toEqual([
      'agent.yaml has 3 problems; fix them and run `kawasan-agent check` again:',
      '  - agent.yaml:3:1 brokr: unknown setting "brokr"; did you mean "broker"? (broker is required)',
      '  - agent.yaml:6:3 buffer.max_mbytes: unknown setting "max_mbytes"; did you mean "max_mb"?',
      '  - agent.yaml:11:5 devices[0].poll_intervall_s: unknown setting "poll_intervall_s"; did you mean "poll_interval_s"?',
    ])
  })

  it('says where a required setting is missing when nothing resembles it', () => {
    expect(() =>
      parseAgentConfig(
        'cluster: c\nplant: p\ndevices:\n  - { id: a, role: load, driver: simulator }\n',
        'y.yaml',
      ),
    ).toThrow(/y\.yaml:1:1 broker: missing; add broker/)
  })

  it('takes the broker password from KAWASAN_AGENT_PASSWORD', () => {
    const cfg = parseAgentConfig(`${base}  - { id: a, role: load, driver: simulator }\n`, 'x.yaml', {
      env: { KAWASAN_AGENT_PASSWORD: 's3cret' },
    })
    expect(cfg.broker.password).toBe('s3cret')
  })

  it('resolves a built-in profile into its register map and normalises word order aliases', () => {
    const cfg = parseAgentConfig(
      `${base}  - { id: a, role: grid_import, driver: modbus-tcp, host: h, profile: sdm630 }
  - { id: b, role: load, driver: modbus-rtu, serial_path: /dev/ttyUSB0, registers: [{ metric: p_kw, address: 3, type: int32, word_order: little }] }
`,
      'x.yaml',
    )
    const [a, b] = cfg.devices
    if (a?.driver !== 'modbus-tcp' || b?.driver !== 'modbus-rtu') throw new Error('unexpected drivers')
    expect(registerMap(a).find((r) => r.metric === 'e_import_kwh')).toMatchObject({
      address: 72,
      function: 'input',
      type: 'float32',
    })
    expect(registerMap(b)[0]).toMatchObject({ word_order: 'CDAB', function: 'holding', scale: 1 })
  })

  it('init writes a template that validates for the given plant', () => {
    const cfg = parseAgentConfig(
      renderConfigTemplate({
        cluster: 'kendal',
        plant: 'mill-2',
        brokerUrl: 'mqtts://b:8883',
        bufferDir: '/tmp/x',
      }),
      'init.yaml',
    )
    expect([cfg.cluster, cfg.plant, cfg.broker.username]).toEqual(['kendal', 'mill-2', 'gw-mill-2'])
  })
})
