// Turns the JSON files ci/bench leaves in its results directory into one markdown table
// (jobs/s, ratios, the targets of issues 6 and 18) followed by the machine and settings.
//
//   node bench/report.mjs build/bench-results
//
// A measurement that failed or was skipped shows as such; nothing is invented.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/report.mjs RESULTS_DIR');
  process.exit(2);
}

function load(name) {
  const file = join(dir, `${name}.json`);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { error: `unreadable result: ${err.message}` };
  }
}

const machine = load('machine') ?? {};
const fmt = (n) => (n == null ? '–' : Math.round(n).toLocaleString('en-US'));
const ms = (n) => (n == null ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const mb = (kb) => (kb == null ? '–' : (kb / 1024).toFixed(1));
const ok = (r) => r && !r.error && r.rate != null;
const rate = (r) => (ok(r) ? r.rate : null);
// With several rounds: the median round, then the lowest and highest.
const spread = (r) =>
  r.runs?.length > 1 ? ` (${fmt(Math.min(...r.runs))}–${fmt(Math.max(...r.runs))})` : '';
const value = (r) => (r == null ? 'not run' : r.error ? r.error : fmt(r.rate) + spread(r));

function best(names) {
  let top = null;
  for (const n of names) {
    const r = load(n);
    if (ok(r) && (top === null || r.rate > top.r.rate)) top = { name: n, r };
  }
  return top;
}

const rows = [];
const row = (...cells) => rows.push(cells);
const ratio = (a, b) => (a != null && b ? a / b : null);
const times = (x) => (x == null ? '–' : `${x.toFixed(2)}×`);
const met = (x, need) =>
  x == null ? '–' : x >= need ? 'yes' : `**no** (${Math.floor((x / need) * 100)}% of target)`;

const jobs = machine.jobs ? machine.jobs.toLocaleString('en-US') : 'N';
const secs = machine.time ?? 'T';
const shape_ = (m) => `${m.producers ?? '?'} producers × ${m.enqueue_batch ?? '?'}`;
const shape = shape_(machine);

const drivers = {
  pool: 'pgq pool driver (libpq)',
  connection: 'pgq connection driver (libpq)',
  apg: 'asyncpg, one connection per consumer',
  apgpool: 'asyncpg pool',
  psy: 'psycopg 3, one connection per consumer',
};
const driverOf = (r) => (ok(r) && r.driver ? drivers[r.driver] ?? r.driver : '–');
// Who limited a sustained run: a backlog larger than what is in flight (two enqueue calls per
// producer plus one claim batch per consumer) means the consumers could not keep up; a smaller
// one means they waited for the producers.
function pace(r) {
  if (!ok(r) || r.queued_left == null) return '–';
  const inFlight = 2 * (r.producers ?? machine.producers ?? 0) * (r.enqueue_batch ?? machine.enqueue_batch ?? 0) +
    (r.consumers ?? 0) * (r.batch ?? 0);
  return r.queued_left > inFlight
    ? `consumers set the pace (backlog left ${fmt(r.queued_left)})`
    : `producers set the pace (backlog left ${fmt(r.queued_left)})`;
}
// ---- drain ----
const gDrain = best(['graphile-drain-p1', 'graphile-drain-p2']);
const gDrainRate = gDrain?.r.rate ?? null;
for (const [name, label] of [
  ['pgq-drain-5x10', 'pgq, 5 consumers × batch 10 (pool driver over libpq, 16 handler threads each)'],
  ['pgq-drain-4x100', 'pgq, 4 consumers × batch 100 (pool driver over libpq, 16 handler threads each)'],
  ['pgq-drain-4x500', 'pgq, 4 consumers × batch 500 (pool driver over libpq, 16 handler threads each)'],
]) {
  const r = load(name);
  const x = ratio(rate(r), gDrainRate);
  row(`Drain ${jobs} no-op`, label, value(r), `${times(x)} graphile best`, '≥ 1.5×', met(x, 1.5));
}
for (const [name, label] of [
  ['graphile-drain-p1', 'graphile-worker, 1 process'],
  ['graphile-drain-p2', 'graphile-worker, 2 processes'],
  ['pgboss-drain', 'pg-boss, 1 process'],
]) {
  const r = load(name);
  const cfg = ok(r) ? ` (${r.config})` : '';
  row(`Drain ${jobs} no-op`, label + cfg, value(r), `${times(ratio(rate(r), gDrainRate))} graphile best`, '', '');
}

// ---- sustained ----
const gThr = best(['graphile-throughput-p1', 'graphile-throughput-p2']);
const gThrRate = gThr?.r.rate ?? null;
const backlog = (r) => (ok(r) && r.queued_left != null ? `; ${pace(r)}` : '');
for (const [name, label] of [
  ['pgq-throughput-2x100', 'pgq, 2 consumers × batch 100 (pool driver over libpq, 16 handler threads each)'],
  ['pgq-throughput-2x500', 'pgq, 2 consumers × batch 500 (pool driver over libpq, 16 handler threads each)'],
]) {
  const r = load(name);
  const x = ratio(rate(r), gThrRate);
  row(`Sustained ${secs} s, ${shape}`, label + backlog(r), value(r), `${times(x)} graphile best`, '≥ 2×', met(x, 2));
}
for (const [name, label] of [
  ['graphile-throughput-p1', 'graphile-worker, 1 process'],
  ['graphile-throughput-p2', 'graphile-worker, 2 processes'],
  ['pgboss-throughput', 'pg-boss, 1 process'],
]) {
  const r = load(name);
  row(`Sustained ${secs} s, ${shape}`, label + backlog(r), value(r), `${times(ratio(rate(r), gThrRate))} graphile best`, '', '');
}

// ---- Python PgQueuer's own benchmark beside pgq's own benchmark (same shapes, same server, same rounds) ----
const pyVersion = [
  'pgqueuer-drain-5x10', 'pgqueuer-drain-4x100', 'pgqueuer-throughput-2x100',
].map(load).find((r) => r?.version)?.version ?? '?';
const pgqRatio = (mine, theirs) => {
  const x = ratio(rate(mine), rate(theirs));
  return x == null ? '–' : `pgq ÷ PgQueuer ${times(x)}`;
};
for (const [shape, label] of [
  ['drain-5x10', '5 consumers × batch 10'],
  ['drain-4x100', '4 consumers × batch 100'],
  ['drain-4x500', '4 consumers × batch 500'],
  ['throughput-2x100', '2 consumers × batch 100'],
  ['throughput-2x500', '2 consumers × batch 500'],
]) {
  const mine = load(`pgq-${shape}`);
  const theirs = load(`pgqueuer-${shape}`);
  const sustained = shape.startsWith('throughput');
  const workload = sustained ? `Sustained ${secs} s, ${shape_(machine)}` : `Drain ${jobs} no-op`;
  const paceOf = (r) => (sustained ? `; ${pace(r)}` : '');
  row(
    workload,
    `PgQueuer ${pyVersion} (tools/benchmark.py), ${label}${ok(theirs) ? `; ${driverOf(theirs)}${paceOf(theirs)}` : ''}`,
    value(theirs),
    pgqRatio(mine, theirs),
    '',
    '',
  );
}

// ---- limit: pgbench with pgq's statements ----
for (const [batch, drainName] of [
  [10, 'pgq-drain-5x10'],
  [100, 'pgq-drain-4x100'],
  [500, 'pgq-drain-4x500'],
]) {
  const limit = load(`pgbench-b${batch}`);
  const clients = ok(limit) ? limit.clients : machine.pgbench_clients ?? '?';
  const x = ratio(rate(load(drainName)), rate(limit));
  row(
    `Limit, batch ${batch}`,
    `pgbench: pgq's claim + completion, ${clients} clients, drain of ${jobs}`,
    value(limit),
    `pgq drain ${times(x)} of it`,
    '≥ 0.90×',
    met(x, 0.9),
  );
}

// ---- latency ----
const lat = load('pgq-latency');
if (lat && !lat.error) {
  row(
    'Latency, idle queue',
    `pgq enqueue → handler start, ${lat.jobs ?? '?'} samples`,
    `p50 ${ms(lat.latency_p50_ms)} / p95 ${ms(lat.latency_p95_ms)} / p99 ${ms(lat.latency_p99_ms)} ms`,
    '',
    'p99 ≤ 5 ms',
    lat.latency_p99_ms == null ? '–' : lat.latency_p99_ms <= 5 ? 'yes' : `**no** (${ms(lat.latency_p99_ms)} ms)`,
  );
} else {
  row('Latency, idle queue', 'pgq enqueue → handler start', lat ? lat.error : 'not run', '', 'p99 ≤ 5 ms', '–');
}
const loaded = load('pgq-throughput-2x100');
if (ok(loaded) && loaded.latency_p99_ms != null) {
  row(
    'Latency under load',
    'pgq enqueue → handler start during the 2 × 100 sustained run',
    `p50 ${ms(loaded.latency_p50_ms)} / p95 ${ms(loaded.latency_p95_ms)} / p99 ${ms(loaded.latency_p99_ms)} ms`,
    '',
    '',
    '',
  );
}

// ---- producers: per call vs BatchingProducer, and pgbench running the enqueue statement ----
const enqueueThreads = readdirSync(dir)
  .map((f) => /^pgq-enqueue-t(\d+)\.json$/.exec(f)?.[1])
  .filter(Boolean)
  .map(Number)
  .sort((a, b) => a - b);
const limitOne = load('pgbench-enqueue-batch64-c1');
const limitBatch = load('pgbench-enqueue-batch32-c2');
const limitFull = load('pgbench-enqueue-batch500-c2');
const callMs = (r) => `call p50 ${ms(r.call_p50_ms)} / p99 ${ms(r.call_p99_ms)} ms`;
for (const threads of enqueueThreads) {
  const r = load(`pgq-enqueue-t${threads}`);
  const workload = `Enqueue, ${threads} thread${threads === 1 ? '' : 's'}`;
  if (r == null || r.error || !r.per_call || !r.batching) {
    row(workload, 'pgq per call and BatchingProducer', r == null ? 'not run' : r.error ?? 'incomplete', '', '', '');
    continue;
  }
  const pc = r.per_call;
  const b = r.batching;
  const target = threads === 64;
  row(workload, `pgq per call (one ProducerQueries each); ${callMs(pc)}`, fmt(pc.rate), '', '', '');
  const x = ratio(b.rate, pc.rate);
  const config = `flushers ${b.flushers}, max_delay ${b.max_delay_ms} ms` +
    `${b.flush_when_idle === false ? ', flush_when_idle off' : ''}`;
  row(
    workload,
    `pgq BatchingProducer (${config}); ${callMs(b)}; ${b.mean_batch?.toFixed(1) ?? '?'} jobs per statement`,
    fmt(b.rate) + spread(r),
    `${times(x)} per call`,
    target ? '≥ 5× per call' : '',
    target ? met(x, 5) : '',
  );
  const own = load(`pgbench-enqueue-own-t${threads}`);
  const y = ratio(b.rate, rate(own));
  const cost = `process ${b.process_cpu_us_per_job?.toFixed(1) ?? '?'} µs CPU, ` +
    `${b.context_switches_per_job?.toFixed(2) ?? '?'} context switches per job`;
  if (target) {
    row(workload, 'BatchingProducer call latency', `p99 ${ms(b.call_p99_ms)} ms`, '', 'p99 ≤ 10 ms',
      b.call_p99_ms <= 10 ? 'yes' : `**no** (${ms(b.call_p99_ms)} ms)`);
  }
  row(workload, `BatchingProducer against pgbench at its own shape (batch ${own?.batch ?? '?'}, 1 client; ` +
      `below); ${cost}`, fmt(b.rate),
    `${times(y)} of it; ${times(ratio(b.rate, rate(limitOne)))} of batch 64 on 1 client; ` +
      `${times(ratio(b.rate, rate(limitBatch)))} of batch 32 on 2; ` +
      `${times(ratio(b.rate, rate(limitFull)))} of batch 500 on 2`,
    target ? '≥ 0.8×' : '', target ? met(y, 0.8) : '');
}
{
  // 64 threads, each with 4 calls in flight.
  const r = load('pgq-enqueue-t64-o4');
  const workload = 'Enqueue, 64 threads × 4 calls in flight';
  const b = r?.batching;
  if (r == null || r.error || !b) {
    row(workload, 'BatchingProducer', r == null ? 'not run' : r.error ?? 'incomplete', '', '', '');
  } else {
    const own = load('pgbench-enqueue-own-t64-o4');
    row(workload, `pgq BatchingProducer (defaults); ${callMs(b)}; ${b.mean_batch?.toFixed(1) ?? '?'} jobs per ` +
        `statement; against pgbench at its own shape (batch ${own?.batch ?? '?'}, 1 client)`, fmt(b.rate) + spread(r),
      `${times(ratio(b.rate, rate(own)))} of it`, '', '');
  }
}
for (const threads of enqueueThreads) {
  const r = load(`pgbench-enqueue-single-c${threads}`);
  if (r == null) continue;
  row('Limit, enqueue', `pgbench: pgq's enqueue statement (per call's variant), 1 job, ${threads} client${threads === 1 ? '' : 's'}`, value(r), '', '', '');
}
const ownShapes = readdirSync(dir)
  .map((f) => /^pgbench-enqueue-own-([^.]+)\.json$/.exec(f)?.[1])
  .filter(Boolean)
  .map((tag) => load(`pgbench-enqueue-own-${tag}`) && [load(`pgbench-enqueue-own-${tag}`), `batch ${load(`pgbench-enqueue-own-${tag}`).batch ?? "?"}, 1 client (the shape of ${tag})`])
  .filter(Boolean);
for (const [r, label] of [...ownShapes, [limitOne, 'batch 64, 1 client'], [limitBatch, 'batch 32, 2 clients'], [limitFull, 'batch 500, 2 clients']]) {
  if (r == null) continue;
  row('Limit, enqueue', `pgbench: pgq's enqueue statement (the producer's variant), ${label}`, value(r), '', '', '');
}

// ---- footprint ----
const fp = load('footprint');
if (fp && !fp.error) {
  row('Footprint', '`pgq run`, start → `/readyz` 200', `${fp.readyz_ms} ms`, '', '', '');
  row(
    'Footprint',
    '`pgq run` RSS, idle',
    `${mb(fp.rss_idle_kb)} MiB`,
    '',
    '≤ 20 MB',
    fp.rss_idle_kb <= (20e6 / 1024) ? 'yes' : `**no** (${mb(fp.rss_idle_kb)} MiB)`,
  );
  row(
    'Footprint',
    `\`pgq run\` RSS draining ${fmt(fp.load_jobs)} jobs (max sampled; VmHWM ${mb(fp.rss_peak_kb)} MiB)`,
    `${mb(fp.rss_load_kb)} MiB`,
    '',
    '',
    '',
  );
  row(
    'Footprint',
    '`pgq run` (noop handler, defaults, batch 10) draining those jobs',
    fp.load_rate == null ? `did not finish (${fmt(fp.load_left)} left)` : fmt(fp.load_rate),
    '',
    '',
    '',
  );
} else {
  row('Footprint', '`pgq run`', fp ? fp.error : 'not run', '', '', '');
}

// ---- print ----
const header = ['Workload', 'System / configuration', 'jobs/s (or value)', 'Ratio', 'Target', 'Met'];
const lines = [];
lines.push(`| ${header.join(' | ')} |`);
lines.push('|---|---|--:|---|---|---|');
for (const r of rows) lines.push(`| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
lines.push('');
lines.push(
  `Machine: ${machine.nproc ?? '?'} CPUs (${machine.cpu ?? '?'}), ${machine.memory ?? '?'} RAM, ` +
    `Linux ${machine.kernel ?? '?'}; load average at start ${machine.loadavg_at_start ?? '?'}.`,
);
lines.push(
  `PostgreSQL ${machine.pg_version ?? '?'} on the same machine: ${machine.pg_settings ?? '?'}.`,
);
lines.push(
  `Node ${machine.node ?? '?'}; graphile-worker ${load('graphile-drain-p1')?.version ?? '?'}, ` +
    `pg-boss ${load('pgboss-drain')?.version ?? '?'}; Python PgQueuer ${pyVersion} in a Debian 13 ` +
    `chroot (its own tools/benchmark.py and schema); pgq ${machine.commit ?? '?'}` +
    `${machine.dirty ? ' (with uncommitted changes)' : ''}.`,
);
lines.push(
  `Run: ${machine.date ?? '?'}, ${machine.quick ? 'quick (PGQ_BENCH_QUICK=1)' : 'full'}; ` +
    `drains of ${jobs} jobs, sustained runs of ${secs} s with ${shape}; ` +
    (machine.rounds > 1
      ? `${machine.rounds} rounds, each value the median round (lowest–highest), ratios of medians; `
      : '') +
    `graphile best = ${gDrain?.name ?? '–'} (drain), ${gThr?.name ?? '–'} (sustained).`,
);
const loadLog = join(dir, 'load.log');
if (existsSync(loadLog)) {
  const samples = readFileSync(loadLog, 'utf8').trim().split('\n').filter(Boolean);
  const busy = samples.filter((l) => l.split(' ').length > 2);
  const maxLoad = Math.max(...samples.map((l) => Number(l.split(' ')[1]) || 0));
  lines.push(
    busy.length
      ? `**A compiler ran beside the benchmark** in ${busy.length} of ${samples.length} samples ` +
          `(first at ${busy[0].split(' ')[0]}): treat these numbers as low.`
      : `No compiler ran during the run (${samples.length} samples); highest 1-minute load ${maxLoad}.`,
  );
}
// CPU time the hypervisor took from this VM: over the whole run, and the worst 2-s sample.
const stealLog = join(dir, 'steal.log');
if (existsSync(stealLog)) {
  const pts = readFileSync(stealLog, 'utf8').trim().split('\n').filter(Boolean)
    .map((l) => l.split(' ')).map(([t, steal, total]) => ({ t, steal: Number(steal), total: Number(total) }));
  if (pts.length > 1) {
    const share = (a, b) => (b.total > a.total ? (b.steal - a.steal) / (b.total - a.total) : 0);
    let worst = { x: 0, t: '' };
    for (let i = 1; i < pts.length; i++) {
      const x = share(pts[i - 1], pts[i]);
      if (x > worst.x) worst = { x, t: pts[i].t };
    }
    const pct = (x) => `${(x * 100).toFixed(1)}%`;
    lines.push(
      `CPU steal (time the hypervisor gave to other guests): ${pct(share(pts[0], pts.at(-1)))} of ` +
        `this VM's CPU time over the run, at most ${pct(worst.x)} in one 2-s sample` +
        `${worst.t ? ` (${worst.t})` : ''}; above a few percent, every number here is low.`,
    );
  }
}
process.stdout.write(lines.join('\n') + '\n');
