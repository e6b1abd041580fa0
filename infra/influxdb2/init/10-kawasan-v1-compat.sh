#!/bin/bash
# First-run setup of InfluxDB 2.x for Kawasan, run once by the official image after its own setup
# (DOCKER_INFLUXDB_INIT_MODE=setup made the org, the bucket and the admin token; the image exports
# DOCKER_INFLUXDB_INIT_ORG_ID/BUCKET_ID and points the `influx` CLI at the setup instance).
# Kawasan speaks the v1-compatible API (/write, /query with InfluxQL; docs/DESIGN.md §4), so:
#  1. a DBRP mapping: v1 database KAWASAN_INFLUX_DATABASE (default kawasan), retention policy
#     autogen, to the bucket; InfluxQL and v1 /write then reach the bucket;
#  2. a read-only v1 user for Grafana (InfluxQL data source, infra/grafana), when a password is set.
set -euo pipefail
db="${KAWASAN_INFLUX_DATABASE:-kawasan}"
influx v1 dbrp create \
  --org-id "${DOCKER_INFLUXDB_INIT_ORG_ID}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${db}" --rp autogen --default
echo "kawasan: mapped v1 database ${db}/autogen to bucket ${DOCKER_INFLUXDB_INIT_BUCKET}"
if [ -n "${GRAFANA_INFLUX_PASSWORD:-}" ]; then
  influx v1 auth create \
    --org-id "${DOCKER_INFLUXDB_INIT_ORG_ID}" \
    --username "${GRAFANA_INFLUX_USER:-grafana}" \
    --password "${GRAFANA_INFLUX_PASSWORD}" \
    --read-bucket "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
    --description "Grafana (read only)"
  echo "kawasan: made read-only v1 user ${GRAFANA_INFLUX_USER:-grafana} for Grafana"
fi
