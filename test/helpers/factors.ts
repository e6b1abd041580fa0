/** Operator factor-file entries the heat tests share. */

/** The steam supplier's declared rate: 65 kg CO2e per GJ of steam = 0.234 kg/kWh_th. */
export const STEAM_THERMAL_FACTORS = {
  'ID-STEAM-CIKARANG': {
    value: 65,
    unit: 'kg_per_gj',
    gases: 'CO2e',
    type: 'supplier_specific',
    year: 2025,
    source: 'Steam supplier annual statement 2025',
  },
} as const
