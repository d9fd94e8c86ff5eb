#!/usr/bin/env bash
# The whole backend as a cluster on this machine: the pg_auto_failover cluster of scripts/pg-cluster.sh
# (a monitor, a primary and a synchronous standby) and N `bluetill-backend serve` nodes over it, each on
# its own free loopback port, all sharing the cluster's multi-host URL.
#
#   scripts/cluster.sh start     PostgreSQL up (pg-cluster.sh start), migrate, seed a demo registry the
#                                first time, start the backend nodes that are not running; prints the
#                                addresses a till takes. Idempotent: a second run starts what is stopped.
#   scripts/cluster.sh stop      SIGTERM to each backend node (it drains: calls in flight finish), then
#                                PostgreSQL; data kept
#   scripts/cluster.sh destroy   stop, then delete the root
#   scripts/cluster.sh status    the backend nodes, then pg_autoctl show state
#
# NODES         backend nodes (default 2); nodes above NODES left from an earlier start are stopped.
# CLUSTER_ROOT  the data root (default: <repo>/.data/cluster), as for pg-cluster.sh. Under it:
#               backend/        the backend's folder: keys.json (sealed under the master key in
#                               playground-keys.json, 0600), tls/, cards/, terminal-T-0001.json, trust.json
#               backend-N.pid   backend-N.log   backend-ports (the ports chosen the first time)
# CLUSTER_JSON=1  start prints one JSON line instead of prose (the tests read it).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT_NAME="${CLUSTER_ROOT:-$REPO/.data/cluster}"
export CLUSTER_ROOT="$ROOT_NAME"
NODES="${NODES:-2}"
CLI="$REPO/backend/bin/bluetill-backend.mjs"
PG_CLUSTER="$REPO/scripts/pg-cluster.sh"
DRAIN_WAIT_S=20

die() { echo "cluster: $*" >&2; exit 1; }
say() { [ "${CLUSTER_JSON:-}" = 1 ] && echo "cluster: $*" >&2 || echo "cluster: $*"; }

[[ "$NODES" =~ ^[1-9][0-9]?$ ]] || die "NODES must be a number from 1 to 99 (got '$NODES')"

# The real directory behind the root (pg-cluster.sh may keep it under /var/tmp behind a symlink).
root() { readlink -f "$ROOT_NAME"; }

# A pid file whose process runs and is a backend node (not another process that got the pid since).
alive() { [ -f "$1" ] && grep -qa bluetill-backend "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]); const servers = []; const ports = [];
    const next = () => { if (ports.length === n) { servers.forEach((s) => s.close()); console.log(ports.join(" ")); return; }
      const s = net.createServer(); servers.push(s); s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); }); };
    next();' "$1"
}

# "PORT SHOPPER_PORT" of node i, chosen the first time the node starts and kept.
node_ports() {
  local i="$1" file line
  file="$(root)/backend-ports"
  touch "$file"
  line="$(awk -v i="$i" '$1 == i { print $2, $3 }' "$file")"
  if [ -z "$line" ]; then
    line="$(free_ports 2)"
    echo "$i $line" >> "$file"
  fi
  echo "$line"
}

keys_json() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]])' "$(root)/backend/playground-keys.json" "$1"; }

# The backend's folder, in the layout `make till` reads (BLUETILL_PLAYGROUND_DIR): its keys file
# first, then the demo registry seeded into PostgreSQL when this folder has no keys yet.
seed_backend() {
  local dir url="$1"
  dir="$(root)/backend"
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ ! -f "$dir/playground-keys.json" ]; then
    (umask 077; printf '{"masterKey":"%s","tillKey":"%s"}\n' "$(openssl rand -base64 32)" "$(openssl rand -base64 32)" > "$dir/playground-keys.json.tmp")
    mv "$dir/playground-keys.json.tmp" "$dir/playground-keys.json"
  fi
  node "$CLI" migrate --store "$url" >&2 || die "migrating $url failed"
  if [ ! -f "$dir/keys.json" ]; then
    say "seeding the demo registry into PostgreSQL, keys and TLS material in $ROOT_NAME/backend"
    BLUETILL_MASTER_KEY="$(keys_json masterKey)" node "$CLI" seed --dir "$dir" --store "$url" >&2 \
      || die "seeding failed: a database that holds a registry without its keys here cannot be served; make cluster-destroy starts afresh"
  fi
}

start_node() { # i, url
  local i="$1" url="$2" r pid port shopper
  r="$(root)"
  if alive "$r/backend-$i.pid"; then return; fi
  read -r port shopper <<<"$(node_ports "$i")"
  : > "$r/backend-$i.log"
  # setsid: its own session, so a Ctrl-C in the shell that ran make does not reach it.
  BLUETILL_MASTER_KEY="$(keys_json masterKey)" setsid node "$CLI" serve --dir "$r/backend" --store "$url" \
    --host 127.0.0.1 --port "$port" --shopper-port "$shopper" >>"$r/backend-$i.log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$r/backend-$i.pid"
  disown "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    grep -q "^listening on 127.0.0.1:$port" "$r/backend-$i.log" && return
    kill -0 "$pid" 2>/dev/null || die "backend node $i exited: $(tail -5 "$r/backend-$i.log")"
    sleep 0.1
  done
  die "backend node $i did not listen within 30 s (see $r/backend-$i.log)"
}

stop_node() { # pid file
  local file="$1" pid
  if alive "$file"; then
    pid="$(cat "$file")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((DRAIN_WAIT_S * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

start() {
  if [ "${CLUSTER_JSON:-}" = 1 ]; then
    CLUSTER_JSON=1 bash "$PG_CLUSTER" start >/dev/null
  else
    bash "$PG_CLUSTER" start
  fi
  local url r addresses="" json="" port shopper f n
  url="$(bash "$PG_CLUSTER" url)"
  r="$(root)"
  seed_backend "$url"
  for f in "$r"/backend-*.pid; do
    [ -e "$f" ] || continue
    n="${f##*/backend-}"; n="${n%.pid}"
    if [ "$n" -gt "$NODES" ]; then say "stopping backend node $n (NODES=$NODES)"; stop_node "$f"; fi
  done
  for i in $(seq 1 "$NODES"); do
    start_node "$i" "$url"
    read -r port shopper <<<"$(node_ports "$i")"
    addresses="${addresses:+$addresses,}localhost:$port"
    json="${json:+$json,}{\"node\":$i,\"port\":$port,\"shopperPort\":$shopper,\"pid\":$(cat "$r/backend-$i.pid")}"
  done
  if [ "${CLUSTER_JSON:-}" = 1 ]; then
    printf '{"url":"%s","backend":"%s","addresses":"%s","nodes":[%s]}\n' "$url" "$r/backend" "$addresses" "$json"
    return
  fi
  cat <<EOF

backend nodes ($NODES, logs $ROOT_NAME/backend-N.log), over $url:
  $addresses

A till takes them all and balances each call over them:
  pos-terminal serve --backend $addresses --terminal $ROOT_NAME/backend/terminal-T-0001.json …
The till with its cashier UI and simulated phones (make till) over these nodes:
  BLUETILL_PLAYGROUND_DIR=$ROOT_NAME/backend BLUETILL_BACKEND=$addresses make till
make cluster-stop stops the nodes (they drain) and PostgreSQL; make cluster-destroy deletes the data.
EOF
}

stop() {
  if [ ! -e "$ROOT_NAME" ]; then say "no cluster at $ROOT_NAME"; return; fi
  local f
  for f in "$(root)"/backend-*.pid; do
    [ -e "$f" ] || continue
    stop_node "$f"
  done
  say "backend nodes stopped"
  bash "$PG_CLUSTER" stop
}

status() {
  local f n
  for f in "$(root)"/backend-*.pid; do
    [ -e "$f" ] || continue
    n="${f##*/backend-}"; n="${n%.pid}"
    if alive "$f"; then echo "backend node $n: running (pid $(cat "$f"), port $(node_ports "$n" | cut -d' ' -f1))"; else echo "backend node $n: stopped"; fi
  done
  bash "$PG_CLUSTER" status
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  destroy)
    stop
    bash "$PG_CLUSTER" destroy ;;
  status) status ;;
  *) die "usage: $0 start|stop|destroy|status" ;;
esac
