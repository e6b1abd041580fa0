/**
 * Device roles (docs/DESIGN.md §2): the place of a device in the energy balance. On its own so the
 * edge agent can check a device's role without loading the site model and what it imports.
 */
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
  'boiler',
  'heat_import',
  // A production counter (tonnes, units, m³) for energy performance indicators: outside every energy balance.
  'production',
  // An outdoor temperature sensor (weather station) for cooling degree days: outside every energy balance.
  'weather',
] as const
export type DeviceRole = (typeof DEVICE_ROLES)[number]
