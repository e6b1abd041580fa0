#!/usr/bin/env bash
# Installs Debian packages Kawasan needs beyond npm (influxdb, mosquitto, chromium, ...), only when the
# command they provide is missing. Usage: ensure-debian-packages.sh PACKAGE[:COMMAND|:/FILE] ...
# It says what it installs; it never starts a service (Kawasan starts its own copies on loopback).
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg="${spec%%:*}"; cmd="${spec#*:}"; [ "$cmd" = "$spec" ] && cmd="$pkg"
  if [ "${cmd#/}" != "$cmd" ]; then
    [ -e "$cmd" ] || missing+=("$pkg") # a package without a command: a file it installs
  elif ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "kawasan: installing Debian packages: ${missing[*]} (apt-get; needed for the local InfluxDB/broker/browser; nothing is started as a system service)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "kawasan: not root and no sudo: run 'apt-get install ${missing[*]}' as root, or set INFLUX_URL to an existing InfluxDB" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# One apt run at a time even when two of our commands start together (the dpkg lock would refuse the
# second): wait for our own lock, then wait up to 5 minutes for dpkg's.
exec 9>/tmp/kawasan-apt.lock
flock 9
APT_WAIT=(-o DPkg::Lock::Timeout=300)
$SUDO apt-get "${APT_WAIT[@]}" update -qq >&2
# --no-install-recommends keeps it small; policy-rc.d-less containers may try to start the service: ignore that.
$SUDO apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
  $SUDO apt-get "${APT_WAIT[@]}" install -y -qq "${missing[@]}" >&2
echo "kawasan: installed ${missing[*]}" >&2
