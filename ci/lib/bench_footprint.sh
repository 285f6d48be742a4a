# shellcheck shell=bash
# The footprint measurement of ci/bench (sourced; uses its settings): footprint starts
# `pgq run` with a noop handler and writes footprint.json (start to /readyz 200, RSS idle,
# while draining load_jobs jobs, and peak).

# shellcheck source=ci/lib/ports.sh
source "$root/ci/lib/ports.sh"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

footprint() {
  local dsn work port pid t0 t1 ready_ms=null code idle_kb load_kb=0 kb left start end
  dsn=$(fresh_db footprint)
  "$pgq" --dsn "$dsn" install >"$out_dir/footprint.install.log" 2>&1
  work=$(mktemp -d "${TMPDIR:-/tmp}/pgq-bench.XXXXXX")
  printf '%s\n' "$dsn" >"$work/dsn"
  port=$(pgq_free_port)
  cat >"$work/worker.yaml" <<EOF
database:
  dsn_file: $work/dsn
queue:
  batch_size: 10
entrypoints:
  bench:
    handler: {type: noop}
http:
  address: 127.0.0.1
  port: $port
logging:
  level: warn
  format: text
EOF
  t0=$(date +%s%N)
  "$pgq" run --config "$work/worker.yaml" >"$out_dir/footprint.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
    if [[ $code == 200 ]]; then
      t1=$(date +%s%N)
      ready_ms=$(((t1 - t0) / 1000000))
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  if [[ $ready_ms == null ]]; then
    echo "ci/bench: pgq run never became ready; see $out_dir/footprint.log" >&2
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf '{"error": "never ready"}\n' >"$out_dir/footprint.json"
    rm -rf "$work"
    return 0
  fi
  sleep 3
  idle_kb=$(rss_kb "$pid")
  # Load: $load_jobs queued jobs appear at once (one INSERT, one NOTIFY); sample RSS while
  # the worker drains them.
  psql "$dsn" -Xq -v ON_ERROR_STOP=1 -c "
    WITH i AS (
      INSERT INTO pgqueuer (priority, entrypoint, execute_after, headers, status)
      SELECT 0, 'bench', NOW(), 'null'::jsonb, 'queued' FROM generate_series(1, $load_jobs)
      RETURNING id, entrypoint, priority)
    INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
    SELECT id, 'queued', entrypoint, priority FROM i" >/dev/null
  start=$(date +%s%N) # the jobs became visible when that statement committed
  left=$load_jobs
  local deadline=$((SECONDS + step_timeout))
  while ((left > 0 && SECONDS < deadline)); do
    kb=$(rss_kb "$pid")
    ((kb > load_kb)) && load_kb=$kb
    left=$(psql "$dsn" -XAtq -c "SELECT count(*) FROM pgqueuer" 2>/dev/null || echo "$left")
    sleep 0.2
  done
  end=$(date +%s%N)
  kb=$(rss_kb "$pid")
  ((kb > load_kb)) && load_kb=$kb
  local hwm
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  node -e '
    const [ready, idle, load, hwm, jobs, left, ns] = process.argv.slice(1).map(Number);
    process.stdout.write(JSON.stringify({ strategy: "footprint", readyz_ms: ready,
      rss_idle_kb: idle, rss_load_kb: load, rss_peak_kb: hwm, load_jobs: jobs,
      load_left: left, load_seconds: Number((ns / 1e9).toFixed(3)),
      load_rate: left === 0 ? Math.round(jobs / (ns / 1e9)) : null }) + "\n");' \
    "$ready_ms" "$idle_kb" "$load_kb" "$hwm" "$load_jobs" "$left" "$((end - start))" \
    >"$out_dir/footprint.json"
  show footprint
  rm -rf "$work"
  drop_db "$dsn"
}
