#!/usr/bin/env bash
# Server CPU per probe with TLS session resumption (bench/run.sh's section 7;
# runs alone too): nginx's worker and a Go crypto/tls server (what istiod
# is), each probed at the defaults against `full_verify_interval: 0s`, in one
# run. The served leaf is RSA 2048, the key istiod's serving certificate has
# by default; a P-256 leaf follows for comparison.
#
#   bench/resumption.sh [BUILD_DIR]
#
# Environment: BENCH_RESUME_PROBES (1000 per block), BENCH_RESUME_BLOCKS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RESUME=$BUILD/bench/meshprobe-bench-resumption
GOPEER=$BUILD/test/support/gopeer/meshprobe-gopeer
for bin in "$RESUME" "$GOPEER"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (cmake --build $BUILD)"; exit 2; }
done
command -v nginx >/dev/null || { echo "nginx not installed (nginx-light)"; exit 2; }
PROBES=${BENCH_RESUME_PROBES:-1000}
BLOCKS=${BENCH_RESUME_BLOCKS:-3}

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_workdir

# A CA and a leaf for istiod's webhook Service name: KEYTYPE is rsa:2048 or
# ec (P-256).
pki() {  # pki DIR KEYTYPE
  local dir=$1 newkey=$2 extra=()
  mkdir -p "$dir"
  [ "$newkey" = ec ] && { newkey=ec; extra=(-pkeyopt ec_paramgen_curve:P-256); }
  openssl req -x509 -newkey "$newkey" "${extra[@]}" -nodes -keyout "$dir/ca-key.pem" \
    -out "$dir/ca.pem" -subj /CN=bench-root -days 2 2>/dev/null
  openssl req -newkey "$newkey" "${extra[@]}" -nodes -keyout "$dir/leaf-key.pem" \
    -out "$dir/leaf.csr" -subj /CN=istiod 2>/dev/null
  printf 'subjectAltName=DNS:istiod.istio-system.svc\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$dir/ext"
  openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -CAcreateserial -days 2 -extfile "$dir/ext" -out "$dir/leaf.pem" 2>/dev/null
}

measure() {  # measure KEYNAME DIR
  local key=$1 dir=$2 port master worker go_pid
  port=$(free_port)
  cat >"$work/nginx-$key.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx-$key.pid;
error_log $work/nginx-$key.log;
events { worker_connections 256; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $dir/leaf.pem;
    ssl_certificate_key $dir/leaf-key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "ok\n"; }
  }
}
NGINX
  taskset -c 1 nginx -p "$work" -c "$work/nginx-$key.conf" &
  master=$!; pids+=("$master")
  wait_for 5 pgrep -P "$master"
  worker=$(pgrep -P "$master" | head -1)
  taskset -c 0 "$RESUME" "nginx_$key" "$port" "$worker" "$dir/ca.pem" "$PROBES" "$BLOCKS"

  taskset -c 1 "$GOPEER" https-server --listen 127.0.0.1:0 --cert "$dir/leaf.pem" \
    --key "$dir/leaf-key.pem" --port-file "$work/go-$key.port" >/dev/null &
  go_pid=$!; pids+=("$go_pid")
  wait_for 5 test -s "$work/go-$key.port"
  port=$(sed 's/.*://' "$work/go-$key.port")
  taskset -c 0 "$RESUME" "go_$key" "$port" "$go_pid" "$dir/ca.pem" "$PROBES" "$BLOCKS"
}

pki "$work/rsa" rsa:2048
pki "$work/ec" ec
measure rsa "$work/rsa"
measure p256 "$work/ec"
