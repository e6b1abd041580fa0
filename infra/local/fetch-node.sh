#!/usr/bin/env bash
# Fetches the newest Node.js of one major line (22, 24) from the npm registry's node-linux-<arch>
# package, once, into a cache, and prints the directory holding its `node`. Used by .ci/run to test
# on the LTS lines the machine does not run. Usage: fetch-node.sh MAJOR
set -euo pipefail
major="${1:?usage: fetch-node.sh MAJOR (e.g. 24)}"
arch="$(node -p process.arch)"
pkg="node-linux-${arch}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kawasan/node"
# The newest version of the line (`npm view` gives one version, or an array when several match).
version="$(npm view "${pkg}@${major}" version --json | node -e '
  const all = [].concat(JSON.parse(require("fs").readFileSync(0, "utf8")));
  process.stdout.write(all.sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1));
')"
dir="${cache}/${pkg}-${version}"
if [ ! -x "${dir}/bin/node" ]; then
  echo "kawasan: fetching Node.js ${version} (${pkg} from the npm registry) into ${dir}" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "${pkg}@${version}" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$cache"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
"${dir}/bin/node" -e 'process.exit(process.version.startsWith(`v${process.argv[1]}.`) ? 0 : 1)' "$major" \
  || { echo "kawasan: ${dir}/bin/node is not Node.js ${major}" >&2; exit 1; }
echo "${dir}/bin"
