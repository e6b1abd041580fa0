/**
 * Every Debian package the test suites need beyond npm, installed once and serially by the vitest
 * global setups (test/setup/debian-packages.ts) before any test runs: parallel test files each
 * calling apt-get collided on the dpkg lock. `.ci/run` installs the same list.
 * PACKAGE:COMMAND (or PACKAGE:/FILE for a package without a command), as
 * infra/local/ensure-debian-packages.sh takes them.
 */
export const TEST_DEBIAN_PACKAGES = [
  'influxdb:influxd', // the real InfluxDB 1.x of every test
  'mosquitto', // the third-party broker (interoperability, subscriber mode)
  'mosquitto-clients:mosquitto_pub', // third-party MQTT clients (security tests)
  'chromium', // the dashboard test (Playwright drives Debian's Chromium)
  'redis-server', // scale-out tests (brokers sharing Redis)
  'faketime', // the fault case of an agent whose clock is ahead
  'jq', // the README's scheduler commands (test/docs/readme-commands.test.ts)
  'prometheus:promtool', // alerting rules: promtool check/test rules (test/infra/prometheus-rules.test.ts)
  'tzdata:/usr/share/zoneinfo/Asia/Jakarta', // zone files the simulator reads (shared/simulation/zone-offset.ts)
] as const
