#!/usr/bin/env bash
# Makes a private CA, a broker certificate and per-gateway client certificates for MQTT over TLS.
# Usage: infra/tls/make-certs.sh OUT_DIR BROKER_HOST[,MORE_NAMES] [GATEWAY_USERNAME ...]
#   OUT_DIR/ca.pem, ca.key          the CA (keep ca.key offline in production)
#   OUT_DIR/broker.pem, broker.key  for broker.tls.certFile/keyFile (SANs: the names given + 127.0.0.1)
#   OUT_DIR/<username>.pem/.key     one client certificate per gateway, CN = its MQTT username
# Certificates are valid for 825 days (the limit clients such as Apple's accept for server certs).
set -euo pipefail
out=${1:?usage: make-certs.sh OUT_DIR BROKER_HOST[,NAME...] [GATEWAY ...]}
names=${2:?give the broker host name(s), comma separated}
shift 2
mkdir -p "$out"
cd "$out"
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=Kawasan private CA" 2>/dev/null
  echo "made CA: $out/ca.pem"
fi
san="IP:127.0.0.1"
IFS=',' read -ra hosts <<<"$names"
for h in "${hosts[@]}"; do
  if [[ $h =~ ^[0-9.]+$ ]]; then san="$san,IP:$h"; else san="$san,DNS:$h"; fi
done
openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=${hosts[0]}" 2>/dev/null
openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 825 \
  -extfile <(printf "subjectAltName=%s\nextendedKeyUsage=serverAuth\n" "$san") 2>/dev/null
rm -f broker.csr
echo "made broker certificate: $out/broker.pem ($san)"
for gw in "$@"; do
  openssl req -newkey rsa:2048 -nodes -keyout "$gw.key" -out "$gw.csr" -subj "/CN=$gw" 2>/dev/null
  openssl x509 -req -in "$gw.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$gw.pem" -days 825 \
    -extfile <(printf "extendedKeyUsage=clientAuth\n") 2>/dev/null
  rm -f "$gw.csr"
  echo "made client certificate for gateway $gw: $out/$gw.pem"
done
chmod 600 ./*.key
