# shellcheck shell=bash
# The measurements of ci/bench (sourced; uses its settings: base_dsn, out_dir, step_timeout,
# jobs, run_time, pgbench_clients, pgqueuer_driver, pgq, peers_dir, root). Each one runs on a
# fresh database and leaves NAME.json in out_dir ({"error": ...} when it failed):
#   pgq_bench, peer_bench, pgqueuer_bench, pgbench_run, enqueue_pgbench; bench_merge_rounds
#   merges NAME.rN.json into NAME.json. Also sql, fresh_db, drop_db, run_json, show.

sql() { psql "$base_dsn" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
# fresh_db NAME: creates a new database for one measurement and prints its DSN.
fresh_db() {
  local name=${1//[-.]/_}
  name=bench_$name
  sql "CREATE DATABASE $name" >/dev/null
  printf '%s\n' "${base_dsn%/*}/$name"
}
# Drops a finished database so the server does not carry its files around.
drop_db() {
  local name=${1##*/}
  sql "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1 || true
}

# run_json NAME CMD...: runs one measurement with a time limit; its last stdout line that is
# a JSON object goes to NAME.json, everything else to NAME.log. A failure or timeout leaves
# {"error": ...} instead, and the run goes on.
run_json() {
  local name=$1 rc=0 line
  shift
  timeout --kill-after=10 "$step_timeout" "$@" >"$out_dir/$name.out" 2>"$out_dir/$name.log" || rc=$?
  line=$(grep -E '^\{.*\}$' "$out_dir/$name.out" | tail -n1 || true)
  if [[ $rc -eq 0 && -n $line ]]; then
    printf '%s\n' "$line" >"$out_dir/$name.json"
    return 0
  fi
  local why="exit status $rc"
  [[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${step_timeout}s"
  echo "ci/bench: $name failed ($why); see $out_dir/$name.log" >&2
  tail -n 5 "$out_dir/$name.log" >&2 || true
  printf '{"error": "%s"}\n' "$why" >"$out_dir/$name.json"
  return 0
}
show() { [[ -f $out_dir/$1.json ]] && echo "    $(cat "$out_dir/$1.json")"; }

# ---- measurements ----------------------------------------------------------------------------

pgq_bench() {
  local name=$1 dsn
  shift
  dsn=$(fresh_db "$name")
  if ! "$pgq" --dsn "$dsn" install >"$out_dir/$name.install.log" 2>&1; then
    echo "ci/bench: pgq install failed for $name" >&2
    printf '{"error": "pgq install failed"}\n' >"$out_dir/$name.json"
    return 0
  fi
  run_json "$name" "$pgq" --dsn "$dsn" bench "$@"
  show "$name"
  drop_db "$dsn"
}

peer_bench() {
  local name=$1 peer=$2 dsn
  shift 2
  dsn=$(fresh_db "$name")
  run_json "$name" env PGQ_BENCH_DSN="$dsn" node "$peers_dir/$peer/bench.mjs" "$@" --timeout "$step_timeout"
  show "$name"
  drop_db "$dsn"
}

# pgqueuer_bench NAME ARGS...: PgQueuer's tools/benchmark.py (ARGS are its flags) against a
# fresh database with PgQueuer's own schema. The database reaches it through libpq's
# environment variables (the script passes an empty DSN to asyncpg and psycopg); its
# --output-json file is written inside the chroot and turned into ci/bench's JSON by
# bench/peers/pgqueuer/result.mjs.
pgqueuer_bench() {
  local name=$1 dsn rc=0 inner host_json hostport
  shift
  if [[ ${pgqueuer_ok:-0} != 1 ]]; then
    printf '{"error": "no PgQueuer chroot"}\n' >"$out_dir/$name.json"
    return 0
  fi
  dsn=$(fresh_db "$name")
  # postgresql://USER@HOST:PORT/DB, as ci/lib/postgres.sh writes it.
  hostport=${dsn#*@}
  hostport=${hostport%%/*}
  export PGUSER=${dsn#postgresql://}
  PGUSER=${PGUSER%%@*}
  export PGHOST=${hostport%:*} PGPORT=${hostport##*:} PGDATABASE=${dsn##*/}
  export PGQUEUER_DSN=$dsn
  export PGQ_TRIXIE_PASS="PGHOST PGPORT PGUSER PGDATABASE PGQUEUER_DSN"
  inner=/tmp/pgq-bench-$name.json
  host_json=$PGQ_TRIXIE_DIR$inner
  rm -f "$host_json"
  if ! pgq_trixie_python -m pgqueuer install --durability durable \
    >"$out_dir/$name.install.log" 2>&1; then
    echo "ci/bench: PgQueuer's install failed for $name; see $out_dir/$name.install.log" >&2
    printf '{"error": "pgqueuer install failed"}\n' >"$out_dir/$name.json"
    unset PGHOST PGPORT PGUSER PGDATABASE PGQUEUER_DSN
    drop_db "$dsn"
    return 0
  fi
  pgq_trixie_python_command
  timeout --kill-after=10 "$step_timeout" "${PGQ_TRIXIE_PYTHON[@]}" \
    "$PGQ_PGQUEUER_DIR/tools/benchmark.py" --driver "$pgqueuer_driver" "$@" \
    --output-json "$inner" >"$out_dir/$name.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 || ! -s $host_json ]]; then
    local why="exit status $rc"
    [[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${step_timeout}s"
    echo "ci/bench: $name failed ($why); see $out_dir/$name.log" >&2
    tail -n 5 "$out_dir/$name.log" >&2 || true
    printf '{"error": "%s"}\n' "$why" >"$out_dir/$name.json"
  else
    cp "$host_json" "$out_dir/$name.pgqueuer.json"
    # Backlog left as pgq's bench counts it: rows still queued.
    PGQ_LEFT=$(psql "$dsn" -XAtq -c "SELECT count(*) FROM pgqueuer WHERE status = 'queued'") \
      PGQ_PGQUEUER_VERSION=${PGQ_PGQUEUER_VERSION:-?} \
      node "$root/bench/peers/pgqueuer/result.mjs" "$host_json" "$@" >"$out_dir/$name.json"
  fi
  rm -f "$host_json"
  unset PGHOST PGPORT PGUSER PGDATABASE PGQUEUER_DSN
  show "$name"
  drop_db "$dsn"
}

# pgbench_run NAME BATCH: fills a fresh pgq queue with $jobs jobs and lets $pgbench_clients
# clients drain exactly that many with bench/pgbench/script.sh's claim_complete; rate = jobs
# done / pgbench's run time.
pgbench_run() {
  local name=$1 batch=$2 dsn per_client rc=0 left tx tps
  dsn=$(fresh_db "$name")
  per_client=$(((jobs + pgbench_clients * batch - 1) / (pgbench_clients * batch)))
  if ! { "$pgq" --dsn "$dsn" install &&
    psql "$dsn" -Xq -v ON_ERROR_STOP=1 -v jobs="$jobs" -f "$root/bench/pgbench/fill.sql"; } \
    >"$out_dir/$name.install.log" 2>&1; then
    echo "ci/bench: preparing $name failed; see $out_dir/$name.install.log" >&2
    printf '{"error": "fill failed"}\n' >"$out_dir/$name.json"
    return 0
  fi
  # The worker writes the claim's batch size in as a literal (one generic plan per size);
  # so does the script. The completion arrays stay bound parameters, as in the worker.
  bash "$root/bench/pgbench/script.sh" "$pgq" claim_complete "$batch" >"$out_dir/$name.sql"
  timeout --kill-after=10 "$step_timeout" "$PGQ_PG_BINDIR/pgbench" -n -M prepared \
    -c "$pgbench_clients" -j "$(($(nproc) < pgbench_clients ? $(nproc) : pgbench_clients))" \
    -t "$per_client" -f "$out_dir/$name.sql" "$dsn" \
    >"$out_dir/$name.log" 2>&1 || rc=$?
  tx=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out_dir/$name.log")
  tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$out_dir/$name.log" | head -n1)
  if [[ $rc -ne 0 || -z $tx || -z $tps ]]; then
    local why="exit status $rc"
    [[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${step_timeout}s"
    echo "ci/bench: $name failed ($why); see $out_dir/$name.log" >&2
    printf '{"error": "%s"}\n' "$why" >"$out_dir/$name.json"
  else
    left=$(psql "$dsn" -XAtq -c "SELECT count(*) FROM pgqueuer")
    node -e '
      const [batch, clients, jobs, left, tx, tps] = process.argv.slice(1).map(Number);
      const elapsed = tx / tps;
      const done = jobs - left;
      process.stdout.write(JSON.stringify({ strategy: "pgbench", batch, clients, jobs: done,
        transactions: tx, tps, elapsed: Number(elapsed.toFixed(3)),
        rate: Math.round(done / elapsed), queued_left: left }) + "\n");' \
      "$batch" "$pgbench_clients" "$jobs" "$left" "$tx" "$tps" >"$out_dir/$name.json"
  fi
  show "$name"
  drop_db "$dsn"
}

# enqueue_pgbench NAME VARIANT JOBS CLIENTS: $run_time seconds of pgbench running
# bench/pgbench/script.sh's enqueue (one enqueue of JOBS jobs per transaction; VARIANT skip as the
# batching producer runs it, raise = without ON CONFLICT, as a per-call enqueue runs it) on
# CLIENTS connections; rate = tps x JOBS.
enqueue_pgbench() {
  local name=$1 variant=$2 n=$3 clients=$4 dsn rc=0 tps script=$out_dir/$1.sql
  if [[ $variant == raise ]]; then
    bash "$root/bench/pgbench/script.sh" "$pgq" enqueue_raise >"$script"
  else
    bash "$root/bench/pgbench/script.sh" "$pgq" enqueue >"$script"
  fi
  dsn=$(fresh_db "$name")
  "$pgq" --dsn "$dsn" install >"$out_dir/$name.install.log" 2>&1
  list() { local out="" i; for ((i = 0; i < n; i++)); do out+="${out:+,}$1"; done; printf '{%s}' "$out"; }
  timeout --kill-after=10 "$step_timeout" "$PGQ_PG_BINDIR/pgbench" -n -M prepared \
    -c "$clients" -j "$(($(nproc) < clients ? $(nproc) : clients))" -T "$run_time" \
    -D priorities="$(list 0)" -D entrypoints="$(list bench)" \
    -D payloads="$(list '"\\x656e71756575652d62656e6368"')" \
    -D delays="$(list NULL)" -D keys="$(list NULL)" -D headers="$(list NULL)" \
    -f "$script" "$dsn" >"$out_dir/$name.log" 2>&1 || rc=$?
  tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$out_dir/$name.log" | head -n1)
  if [[ $rc -ne 0 || -z $tps ]]; then
    echo "ci/bench: $name failed (exit status $rc); see $out_dir/$name.log" >&2
    printf '{"error": "exit status %s"}\n' "$rc" >"$out_dir/$name.json"
  else
    node -e '
      const [n, clients, tps] = process.argv.slice(1).map(Number);
      process.stdout.write(JSON.stringify({ strategy: "pgbench-enqueue", batch: n, clients, tps,
        rate: Math.round(tps * n) }) + "\n");' "$n" "$clients" "$tps" >"$out_dir/$name.json"
  fi
  show "$name"
  drop_db "$dsn"
}

# bench_merge_rounds: NAME.json = the round with the median rate (an enqueue run's: its
# batching producer's), plus "runs" (every round's rate, in order) and "failed_runs"; when
# no round succeeded, the first round's error.
bench_merge_rounds() {
  node -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1], groups = {};
    for (const f of fs.readdirSync(dir)) {
      const m = /^(.*)\.r(\d+)\.json$/.exec(f);
      if (m) (groups[m[1]] ??= []).push([Number(m[2]), JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))]);
    }
    for (const [name, list] of Object.entries(groups)) {
      list.sort((a, b) => a[0] - b[0]);
      const rate = (r) => (typeof r.rate === "number" ? r.rate : r.batching?.rate);
      const ok = list.map(([, r]) => r).filter((r) => !r.error && typeof rate(r) === "number");
      let out = list[0][1];
      if (ok.length) {
        const sorted = [...ok].sort((a, b) => rate(a) - rate(b));
        out = { ...sorted[Math.floor((sorted.length - 1) / 2)], runs: ok.map(rate),
                failed_runs: list.length - ok.length };
      }
      fs.writeFileSync(path.join(dir, name + ".json"), JSON.stringify(out) + "\n");
    }' "$out_dir"
}
