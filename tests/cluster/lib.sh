# Shared by up, down and ctl: where the cluster lives and how its two
# processes are started, stopped and probed. Sourced, not run.
#
# All state (certificates, tokens, etcd data, logs, pids, the kubeconfig) is in
# one directory, $ELECTOR_CLUSTER_DIR, so restarting a component keeps its data
# and `down` removes everything at once.

cluster_dir=${ELECTOR_CLUSTER_DIR:-${TMPDIR:-/tmp}/elector-cluster}
cluster_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { echo "cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Serialises up/down/ctl across processes (test binaries may start in parallel).
lock_cluster() {
  mkdir -p "$(dirname "$cluster_dir")"
  exec 8>"$cluster_dir.lock"
  flock 8
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_of() { cat "$cluster_dir/$1.pid" 2>/dev/null || true; }

is_running() {
  local pid
  pid=$(pid_of "$1")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

etcd_healthy() {
  curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'
}

admin_get() {
  curl -sf --max-time 5 --cacert "$cluster_dir/pki/ca.crt" \
    -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$APISERVER_PORT$1"
}

apiserver_ready() {
  [[ "$(admin_get /readyz 2>/dev/null)" == ok ]] && admin_get /api/v1/namespaces/default >/dev/null 2>&1
}

# wait_for NAME PROBE SECONDS: polls PROBE until it succeeds, failing with the
# tail of NAME's log if the process dies or time runs out.
wait_for() {
  local name=$1 probe=$2 limit=$3 waited=0
  until $probe; do
    if ! is_running "$name"; then
      tail -n 30 "$cluster_dir/$name.log" >&2 || true
      die "$name exited during start-up (log: $cluster_dir/$name.log)"
    fi
    if ((waited >= limit * 10)); then
      tail -n 30 "$cluster_dir/$name.log" >&2 || true
      die "$name not ready after ${limit}s (log: $cluster_dir/$name.log)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

start_etcd() {
  is_running etcd && return 0
  log "starting etcd on 127.0.0.1:$ETCD_PORT"
  setsid "$BIN_DIR/etcd" \
    --name=elector \
    --data-dir="$cluster_dir/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="elector=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls="" \
    --unsafe-no-fsync \
    --log-level=warn \
    </dev/null >>"$cluster_dir/etcd.log" 2>&1 8>&- &
  echo $! >"$cluster_dir/etcd.pid"
  wait_for etcd etcd_healthy 60
}

start_apiserver() { run_apiserver apiserver "$APISERVER_PORT"; }

# A second API server on the same etcd that offers HTTP/1.1 only (no h2 by
# ALPN), for the tests of the client's fallback; started on demand by ctl.
start_apiserver-http1() { run_apiserver apiserver-http1 "$HTTP1_APISERVER_PORT" --disable-http2-serving; }

# run_apiserver NAME PORT [FLAG...]
run_apiserver() {
  local name=$1 port=$2
  shift 2
  is_running "$name" && return 0
  log "starting kube-apiserver ($name) on https://127.0.0.1:$port"
  setsid "$BIN_DIR/kube-apiserver" \
    --advertise-address=127.0.0.1 \
    --bind-address=127.0.0.1 \
    --secure-port="$port" \
    --tls-cert-file="$cluster_dir/pki/apiserver.crt" \
    --tls-private-key-file="$cluster_dir/pki/apiserver.key" \
    --cert-dir="$cluster_dir/pki" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --service-cluster-ip-range=10.96.0.0/24 \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$cluster_dir/pki/sa.pub" \
    --service-account-signing-key-file="$cluster_dir/pki/sa.key" \
    --token-auth-file="$cluster_dir/tokens.csv" \
    --authorization-mode=RBAC \
    --disable-admission-plugins=ServiceAccount \
    --endpoint-reconciler-type=none \
    --profiling=false \
    --v=1 \
    "$@" \
    </dev/null >>"$cluster_dir/$name.log" 2>&1 8>&- &
  echo $! >"$cluster_dir/$name.pid"
  APISERVER_PORT=$port wait_for "$name" apiserver_ready 120
}

# stop_component NAME [SIGNAL]: stops one process and waits until it is gone.
stop_component() {
  local name=$1 signal=${2:-TERM} pid
  pid=$(pid_of "$name")
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid, SIG$signal)"
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$cluster_dir/$name.pid"
}

load_env() {
  [[ -f "$cluster_dir/env" ]] || die "no cluster at $cluster_dir: run tests/cluster/up first"
  # shellcheck disable=SC1091
  source "$cluster_dir/env"
  if [[ -z ${HTTP1_APISERVER_PORT:-} ]]; then
    HTTP1_APISERVER_PORT=$(free_port)
    echo "HTTP1_APISERVER_PORT=$HTTP1_APISERVER_PORT" >>"$cluster_dir/env"
  fi
  BIN_DIR=$("$cluster_src/build")
}
