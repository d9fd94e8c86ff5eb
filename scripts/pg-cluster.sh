#!/usr/bin/env bash
# A pg_auto_failover cluster on this machine: a monitor and two PostgreSQL 15 nodes (a primary and a
# synchronous standby), on free loopback ports, everything bound to 127.0.0.1, data under one root.
#
#   scripts/pg-cluster.sh start     create (first time) or restart the cluster; idempotent; prints the URL
#   scripts/pg-cluster.sh stop      stop all three (data kept; start again resumes)
#   scripts/pg-cluster.sh destroy   stop and delete the root
#   scripts/pg-cluster.sh status    pg_autoctl show state
#   scripts/pg-cluster.sh url       the multi-host URL for the servers
#
# CLUSTER_ROOT  the data root (default: <repo>/.data/cluster). PostgreSQL runs as the current user,
#               or as the Debian package's `postgres` user when run as root (PostgreSQL refuses root);
#               that user must be able to reach the root: if it cannot (a repo under /root), the data
#               goes under /var/tmp and CLUSTER_ROOT becomes a symlink to it.
# CLUSTER_JSON=1  start prints one JSON line (ports, pgdata, process groups) instead of prose.
#
# Failover timing: the monitor's health checks run every second with a 1 s timeout; a node that has
# not reported for 2 s and fails its check is unhealthy. A keeper that can reach neither the monitor
# nor its standby demotes its own primary after network_partition_timeout (3 s); the monitor waits
# primary_demote_timeout (5 s) before it promotes the standby. The demote timeout must stay ABOVE the
# partition timeout: otherwise a primary cut off from the monitor (but not from its clients) still
# takes writes while the standby is already promoted.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT_NAME="${CLUSTER_ROOT:-$REPO/.data/cluster}"
ROOT="$ROOT_NAME"
# Behind a symlink (see prepare_root): work in the real directory, which the cluster's user can reach.
[ -L "$ROOT" ] && ROOT="$(readlink -f "$ROOT")"
PGBIN=/usr/lib/postgresql/15/bin
DBNAME=bluetill
HEALTH_CHECK_PERIOD_MS=1000
HEALTH_CHECK_TIMEOUT_MS=1000
HEALTH_CHECK_MAX_RETRIES=1
HEALTH_CHECK_RETRY_DELAY_MS=500
NODE_UNHEALTHY_TIMEOUT_MS=2000
PRIMARY_DEMOTE_TIMEOUT_MS=5000
NETWORK_PARTITION_TIMEOUT_S=3
PREPARE_PROMOTION_WALRECEIVER_S=1

die() { echo "pg-cluster: $*" >&2; exit 1; }
say() { [ "${CLUSTER_JSON:-}" = 1 ] && echo "pg-cluster: $*" >&2 || echo "pg-cluster: $*"; }

[ -x "$PGBIN/pg_ctl" ] || die "$PGBIN/pg_ctl missing: run make setup (Debian package postgresql-15)"
command -v pg_autoctl >/dev/null || die "pg_autoctl missing: run make setup (Debian package postgresql-15-auto-failover)"

if [ "$(id -u)" -eq 0 ]; then
  RUNAS=postgres
  id -u "$RUNAS" >/dev/null 2>&1 || die "running as root and there is no postgres user: run make setup"
else
  RUNAS="$(id -un)"
fi

# Runs a command as the cluster's user with its private pg_autoctl config, state and run dirs.
as_pg() {
  local envs=(PATH="$PGBIN:/usr/bin:/bin" XDG_CONFIG_HOME="$ROOT/config" XDG_DATA_HOME="$ROOT/share" XDG_RUNTIME_DIR="$ROOT/run" PG_CONFIG="$PGBIN/pg_config" LC_ALL=C)
  if [ "$RUNAS" = "$(id -un)" ]; then env "${envs[@]}" "$@"; else runuser -u "$RUNAS" -- env "${envs[@]}" "$@"; fi
}

# The data root must be reachable by the cluster's user; else keep it under /var/tmp behind a symlink.
prepare_root() {
  if [ -L "$ROOT" ]; then return; fi
  mkdir -p "$ROOT"
  [ "$RUNAS" != "$(id -un)" ] && chown "$RUNAS:" "$ROOT"
  chmod 700 "$ROOT"
  if ! as_pg test -w "$ROOT"; then
    local alt
    alt="/var/tmp/bluetill-cluster-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
    say "$RUNAS cannot reach $ROOT; keeping the data in $alt"
    rmdir "$ROOT"
    mkdir -p "$alt"
    chown "$RUNAS:" "$alt"
    chmod 700 "$alt"
    ln -s "$alt" "$ROOT"
    ROOT="$alt"
  fi
}

free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]); const servers = []; const ports = [];
    const next = () => { if (ports.length === n) { servers.forEach((s) => s.close()); console.log(ports.join(" ")); return; }
      const s = net.createServer(); servers.push(s); s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); }); };
    next();' "$1"
}

monitor_uri() { echo "postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable"; }
cluster_url() { echo "postgresql://$RUNAS@127.0.0.1:$NODE1_PORT,127.0.0.1:$NODE2_PORT/$DBNAME?target_session_attrs=read-write"; }

monitor_sql() {
  as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$MONITOR_PORT" -d pg_auto_failover -c "$1"
}

running() { [ -f "$ROOT/$1.pgid" ] && kill -0 -- "-$(cat "$ROOT/$1.pgid")" 2>/dev/null; }

# pg_autoctl run for one of monitor|node1|node2, in its own process group (so it can be killed whole).
run_service() {
  local name="$1"
  running "$name" && return
  : > "$ROOT/$name.log"
  [ "$RUNAS" != "$(id -un)" ] && chown "$RUNAS:" "$ROOT/$name.log"
  # setsid: its own session and process group; its pid is the group's id.
  as_pg setsid pg_autoctl run --pgdata "$ROOT/$name" >>"$ROOT/$name.log" 2>&1 < /dev/null &
  local launcher=$!
  local pgid="" pidfile
  for _ in $(seq 1 200); do
    # pg_autoctl writes its pid under XDG_RUNTIME_DIR, in a path made of the data directory's.
    pidfile="$(find "$ROOT/run" -path "*/$name/pg_autoctl.pid" 2>/dev/null | head -1)"
    if [ -n "$pidfile" ] && [ -s "$pidfile" ]; then
      pgid="$(ps -o pgid= -p "$(head -1 "$pidfile")" 2>/dev/null | tr -d ' ' || true)"
      [ -n "$pgid" ] && break
    fi
    kill -0 "$launcher" 2>/dev/null || die "pg_autoctl run for $name exited (see $ROOT/$name.log)"
    sleep 0.05
  done
  [ -n "$pgid" ] || die "pg_autoctl run for $name did not start (see $ROOT/$name.log)"
  echo "$pgid" > "$ROOT/$name.pgid"
  disown "$launcher" 2>/dev/null || true
}

wait_for() { # description, seconds, command...
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${secs}s waiting for $what (logs in $ROOT/*.log)"
    sleep 0.2
  done
}

node_state_is() { # node name, state
  [ "$(monitor_sql "SELECT reportedstate || '/' || goalstate FROM pgautofailover.node WHERE nodename = '$1'")" = "$2/$2" ]
}

create_node() { # name, port
  local name="$1" port="$2"
  if [ ! -f "$ROOT/$name/PG_VERSION" ]; then
    as_pg pg_autoctl create postgres --pgdata "$ROOT/$name" --pgport "$port" --pgctl "$PGBIN/pg_ctl" \
      --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl --name "$name" --dbname "$DBNAME" \
      --monitor "$(monitor_uri)" >>"$ROOT/create-$name.log" 2>&1 || die "creating $name failed (see $ROOT/create-$name.log)"
    as_pg pg_autoctl config set --pgdata "$ROOT/$name" timeout.network_partition_timeout "$NETWORK_PARTITION_TIMEOUT_S" >/dev/null
    as_pg pg_autoctl config set --pgdata "$ROOT/$name" timeout.prepare_promotion_walreceiver "$PREPARE_PROMOTION_WALRECEIVER_S" >/dev/null
  fi
  run_service "$name"
}

load_ports() { # shellcheck disable=SC1091
  . "$ROOT/ports"
}

start() {
  prepare_root
  mkdir -p "$ROOT/config" "$ROOT/share" "$ROOT/run"
  [ "$RUNAS" != "$(id -un)" ] && chown "$RUNAS:" "$ROOT/config" "$ROOT/share" "$ROOT/run"
  if [ ! -f "$ROOT/ports" ]; then
    read -r MONITOR_PORT NODE1_PORT NODE2_PORT <<<"$(free_ports 3)"
    printf 'MONITOR_PORT=%s\nNODE1_PORT=%s\nNODE2_PORT=%s\n' "$MONITOR_PORT" "$NODE1_PORT" "$NODE2_PORT" > "$ROOT/ports"
  fi
  load_ports
  if [ ! -f "$ROOT/monitor/PG_VERSION" ]; then
    say "creating the monitor on 127.0.0.1:$MONITOR_PORT"
    as_pg pg_autoctl create monitor --pgdata "$ROOT/monitor" --pgport "$MONITOR_PORT" --pgctl "$PGBIN/pg_ctl" \
      --hostname 127.0.0.1 --auth trust --no-ssl >>"$ROOT/create-monitor.log" 2>&1 || die "creating the monitor failed (see $ROOT/create-monitor.log)"
    as_pg "$PGBIN/pg_ctl" -D "$ROOT/monitor" status >/dev/null 2>&1 && as_pg "$PGBIN/pg_ctl" -D "$ROOT/monitor" -m fast -w stop >/dev/null
    # pg_autoctl has no --listen for the monitor: it would listen on every interface.
    as_pg pg_autoctl config set --pgdata "$ROOT/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
    cat >>"$ROOT/monitor/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
pgautofailover.health_check_period = $HEALTH_CHECK_PERIOD_MS
pgautofailover.health_check_timeout = $HEALTH_CHECK_TIMEOUT_MS
pgautofailover.health_check_max_retries = $HEALTH_CHECK_MAX_RETRIES
pgautofailover.health_check_retry_delay = $HEALTH_CHECK_RETRY_DELAY_MS
pgautofailover.node_considered_unhealthy_timeout = $NODE_UNHEALTHY_TIMEOUT_MS
pgautofailover.primary_demote_timeout = $PRIMARY_DEMOTE_TIMEOUT_MS
EOF
  fi
  run_service monitor
  wait_for "the monitor" 60 monitor_sql "SELECT 1"
  say "node1 on 127.0.0.1:$NODE1_PORT"
  create_node node1 "$NODE1_PORT"
  # The first node runs alone ("single") until the second joins; a restart of a built cluster skips this.
  [ -f "$ROOT/node2/PG_VERSION" ] || wait_for "node1 to run alone" 90 node_state_is node1 single
  say "node2 on 127.0.0.1:$NODE2_PORT"
  create_node node2 "$NODE2_PORT"
  wait_for "a primary and a synchronous secondary" 120 two_nodes_in_sync
  wait_for "the primary to take writes" 60 as_pg "$PGBIN/psql" -X -At -d "$(cluster_url)" -v ON_ERROR_STOP=1 \
    -c "SELECT 1 / (NOT pg_is_in_recovery() AND current_setting('synchronous_standby_names') <> '')::int"
  if [ "${CLUSTER_JSON:-}" = 1 ]; then
    printf '{"url":"%s","monitorPort":%s,"user":"%s","root":"%s","nodes":[{"name":"node1","port":%s,"pgdata":"%s/node1","pgid":%s},{"name":"node2","port":%s,"pgdata":"%s/node2","pgid":%s}],"monitorPgid":%s}\n' \
      "$(cluster_url)" "$MONITOR_PORT" "$RUNAS" "$ROOT" "$NODE1_PORT" "$ROOT" "$(cat "$ROOT/node1.pgid")" "$NODE2_PORT" "$ROOT" "$(cat "$ROOT/node2.pgid")" "$(cat "$ROOT/monitor.pgid")"
  else
    as_pg pg_autoctl show state --pgdata "$ROOT/monitor" 2>/dev/null || true
    echo
    echo "$(cluster_url)"
  fi
}

two_nodes_in_sync() {
  [ "$(monitor_sql "SELECT string_agg(reportedstate || '/' || goalstate, ' ' ORDER BY reportedstate) FROM pgautofailover.node")" = "primary/primary secondary/secondary" ]
}

stop_service() {
  local name="$1"
  if running "$name"; then
    as_pg pg_autoctl stop --pgdata "$ROOT/$name" >/dev/null 2>&1 || true
    local pgid; pgid="$(cat "$ROOT/$name.pgid")"
    for _ in $(seq 1 150); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -0 -- "-$pgid" 2>/dev/null && kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  # A postmaster left behind by a killed keeper.
  if [ -f "$ROOT/$name/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$ROOT/$name" -m fast -w -t 20 stop >/dev/null 2>&1 || true
  fi
  rm -f "$ROOT/$name.pgid"
}

stop() {
  [ -d "$ROOT" ] || { say "no cluster at $ROOT_NAME"; return; }
  for n in node2 node1 monitor; do stop_service "$n"; done
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  destroy)
    stop
    rm -rf "$ROOT"
    [ -L "$ROOT_NAME" ] && rm -f "$ROOT_NAME"
    say "destroyed $ROOT_NAME" ;;
  status) load_ports; as_pg pg_autoctl show state --pgdata "$ROOT/monitor" ;;
  url) load_ports; cluster_url ;;
  *) die "usage: $0 start|stop|destroy|status|url" ;;
esac
