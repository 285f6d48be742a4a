// Turns the --output-json file of Python PgQueuer's tools/benchmark.py into ci/bench's
// result line (the same keys as `pgq bench` and the other peers), on stdout.
//
//   PGQ_LEFT=N PGQ_PGQUEUER_VERSION=V node result.mjs FILE BENCHMARK_FLAGS...
//
// BENCHMARK_FLAGS are the flags the script ran with (consumers, batch sizes and producers
// are read from them; the result file does not carry them). PGQ_LEFT is the backlog left,
// counted as `pgq bench` counts it: rows still queued.

import { readFileSync } from 'node:fs';

const [file, ...flags] = process.argv.slice(2);
if (!file) {
  console.error('usage: node result.mjs FILE BENCHMARK_FLAGS...');
  process.exit(2);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const flag = (name) => {
  const i = flags.indexOf(`--${name}`);
  return i < 0 ? undefined : Number(flags[i + 1]);
};

// pydantic writes a timedelta as an ISO 8601 duration: "PT12.345S", "PT1M2.5S", "P1DT…".
function seconds(text) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(String(text));
  if (!m) return Number(text);
  const [d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0));
  return d * 86400 + h * 3600 + min * 60 + s;
}

const throughput = r.strategy === 'throughput';
const out = {
  system: 'pgqueuer',
  version: process.env.PGQ_PGQUEUER_VERSION,
  strategy: r.strategy,
  driver: r.driver,
  consumers: flag('dequeue'),
  batch: flag('dequeue-batch-size'),
  producers: throughput ? flag('enqueue') : undefined,
  enqueue_batch: throughput ? flag('enqueue-batch-size') : undefined,
  jobs: r.steps,
  elapsed: Number(seconds(r.elapsed).toFixed(3)),
  rate: Math.round(r.rate),
  queued_left: process.env.PGQ_LEFT === undefined ? undefined : Number(process.env.PGQ_LEFT),
  pgqueuer_queued: r.queued,
};
process.stdout.write(JSON.stringify(out) + '\n');
