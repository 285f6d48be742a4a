# shellcheck shell=bash
# Pieces of ci/bench about the machine it runs on (sourced; uses its step, out_dir and settings):
#   bench_wait_quiet     wait up to PGQ_BENCH_WAIT_QUIET seconds while a compiler runs or the load is high
#   bench_start_sampler  note load, compilers and CPU steal every 2 s (load.log, steal.log); sets sampler
#   bench_machine_json   write machine.json (CPU, memory, kernel, server settings, run settings)

# Busy: a compiler is running, or the 1-minute load average is above half the CPUs.
busy() {
  local load
  local tool
  for tool in ninja make cc1plus ld; do
    pgrep -x "$tool" >/dev/null 2>&1 && return 0
  done
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'
}

bench_wait_quiet() {
  local wait_quiet=${PGQ_BENCH_WAIT_QUIET:-900} deadline
  if ((wait_quiet > 0)) && busy; then
    step "Waiting up to ${wait_quiet}s for the machine to go quiet (build or load average $(cut -d' ' -f1 /proc/loadavg))"
    deadline=$((SECONDS + wait_quiet))
    while busy && ((SECONDS < deadline)); do sleep 5; done
    if busy; then
      echo "ci/bench: the machine is still busy (load $(cut -d' ' -f1-3 /proc/loadavg)); numbers will be low" >&2
    fi
  fi
}

# Note every 2 s whether a compiler runs beside the benchmark, and the CPU time the
# hypervisor took from this VM ("steal" in /proc/stat: the 5th and 8th numbers after "cpu"
# are idle and steal; steal.log keeps the running totals), which the report sums up.
bench_start_sampler() {
  (
    while :; do
      tools=""
      for tool in ninja make cc1plus ld; do
        pgrep -x "$tool" >/dev/null 2>&1 && tools+=" $tool"
      done
      printf '%s %s%s\n' "$(date +%T)" "$(cut -d' ' -f1 /proc/loadavg)" "$tools"
      awk -v t="$(date +%T)" '$1 == "cpu" { total = 0; for (i = 2; i <= NF; i++) total += $i;
        print t, $9, total; exit }' /proc/stat >>"$out_dir/steal.log"
      sleep 2
    done
  ) >"$out_dir/load.log" 2>/dev/null &
  sampler=$!
}

# bench_machine_json: needs sql (ci/lib/bench_runs.sh) on the started server.
bench_machine_json() {
  local pg_settings pg_version cpu_model
  pg_settings=$(sql "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes',
    'shared_buffers', 'max_wal_size', 'wal_level', 'max_connections')")
  pg_version=$(sql "SHOW server_version")

  cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  PGQ_M_NPROC=$(nproc) PGQ_M_CPU=${cpu_model:-unknown} \
    PGQ_M_MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) \
    PGQ_M_KERNEL=$(uname -r) PGQ_M_PG=$pg_version PGQ_M_PGSET=$pg_settings \
    PGQ_M_NODE=$(node --version) PGQ_M_COMMIT=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown) \
    PGQ_M_DIRTY=$(git -C "$root" status --porcelain 2>/dev/null | grep -qv '^??' && echo yes || echo no) \
    PGQ_M_LOAD=$(cut -d' ' -f1-3 /proc/loadavg) PGQ_M_QUICK=$quick PGQ_M_JOBS=$jobs \
    PGQ_M_TIME=$run_time PGQ_M_PRODUCERS=$producers PGQ_M_EBATCH=$enqueue_batch \
    PGQ_M_CLIENTS=$pgbench_clients PGQ_M_ROUNDS=$rounds PGQ_M_DATE=$(date -u +%Y-%m-%dT%H:%MZ) \
    node -e '
      const e = process.env;
      const m = { date: e.PGQ_M_DATE, nproc: Number(e.PGQ_M_NPROC), cpu: e.PGQ_M_CPU,
        memory: e.PGQ_M_MEM, kernel: e.PGQ_M_KERNEL, pg_version: e.PGQ_M_PG,
        pg_settings: e.PGQ_M_PGSET, node: e.PGQ_M_NODE, commit: e.PGQ_M_COMMIT,
        dirty: e.PGQ_M_DIRTY === "yes", loadavg_at_start: e.PGQ_M_LOAD, quick: e.PGQ_M_QUICK === "1",
        jobs: Number(e.PGQ_M_JOBS), time: Number(e.PGQ_M_TIME), producers: Number(e.PGQ_M_PRODUCERS),
        enqueue_batch: Number(e.PGQ_M_EBATCH), pgbench_clients: Number(e.PGQ_M_CLIENTS),
        rounds: Number(e.PGQ_M_ROUNDS) };
      process.stdout.write(JSON.stringify(m, null, 2) + "\n");' >"$out_dir/machine.json"
}
