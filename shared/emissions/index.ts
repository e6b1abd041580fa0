/**
 * Public surface of the emission maths (pure; docs/DESIGN.md §5). See README.md for the rules.
 */
export type { AppliedFactors, BatteryStore, Contribution, EnergyBalance, GenerationRole } from './balance.js'
export {
  DEFAULT_ROUND_TRIP_EFFICIENCY,
  EMPTY_STORE,
  GENERATION_ROLES,
  plantBalance,
  sumBalances,
} from './balance.js'
export type {
  AllocatableCertificate,
  CertificateAllocation,
  CertificateLike,
  CertificatesInWindow,
  CertificateUse,
} from './certificates.js'
export { allocateCertificates, certificatesInWindow, certificateUseAfter } from './certificates.js'
export type { BlendComponent, BoilerInput, BoilerResult, Combustion, PurchasedHeat } from './combustion.js'
export { boiler, combustion, isRenewable, purchasedHeat } from './combustion.js'
export type { DeviceEnergy, EnergyOptions, FuelUse, Gap, PreparedDevice } from './energy.js'
export { deviceEnergy, prepareDevice, windowEnergy } from './energy.js'
export type { EmissionsErrorCode } from './errors.js'
export { EmissionsError } from './errors.js'
export type {
  FactorSet,
  FactorType,
  FuelFactor,
  GridFactor,
  ReferenceConditions,
} from './factors/factor-sets.js'
export {
  BUNDLED_FACTOR_SETS,
  bundledFactorSet,
  LATEST_FACTOR_SET,
  loadFactorSetFile,
  marketFactor,
  NORMAL_CONDITIONS,
  parseFactorSet,
  STANDARD_CONDITIONS,
  withGwp,
} from './factors/factor-sets.js'
export type { Gwp, GwpSetName } from './factors/gwp.js'
export { GWP_SETS } from './factors/gwp.js'
export { loadOperatorFactorFile, parseOperatorFactorFile } from './factors/operator-file.js'
export type {
  FactorProvenance,
  MarketFactorUsed,
  ProvenanceField,
  ProvenanceInput,
} from './factors/provenance.js'
export {
  clusterProvenance,
  factorProvenance,
  massUnitFor,
  PROVENANCE_FIELDS,
  PROVENANCE_NUMBER_FIELDS,
  provenanceFields,
  provenanceOf,
} from './factors/provenance.js'
export type { FactorSetPeriod } from './factors/registry.js'
export { FactorRegistry, factorSetFor } from './factors/registry.js'
export type { HourInput, HourlyMatchingResult, HourMatch } from './hourly-matching.js'
export { hourlyMatching } from './hourly-matching.js'
export type { LocalHour } from './local-days.js'
export { hoursInLocalDay, localDateOf, localDayWindow, localHours, startOfLocalDay } from './local-days.js'
export type {
  ClusterHour,
  ClusterRollup,
  DataQuality,
  DeviceSummary,
  EnergiesInput,
  FactorSetUsed,
  PlantRollup,
  RollupInput,
  SharedAssetRollup,
} from './rollup.js'
export { computeRollup, rollupFromEnergies } from './rollup.js'
export type { BoilerRollup, HeatImportRollup, PlantThermal, ThermalBalance } from './thermal.js'
export { boilerInput, DEFAULT_HEAT_FACTOR, plantThermal, THERMAL_FIELDS } from './thermal.js'
export type { DeviceSeries, Flag, FlagCode, Fuel, Sample, SeriesColumns, TimeWindow } from './types.js'
