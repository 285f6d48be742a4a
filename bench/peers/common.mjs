// Shared harness for the peer benchmarks (graphile-worker, pg-boss).
//
// The same two workloads as `pgq bench` and PgQueuer's tools/benchmark.py:
//
//   drain       enqueue --jobs no-op jobs in bulk (library batch API, not timed), then start
//               the consumers and time until the database holds no unfinished job.
//               rate = jobs / drain wall time.
//   throughput  --producers loops enqueue batches of --enqueue-batch jobs while the consumers
//               run a no-op handler, for --time seconds.
//               rate = jobs the handlers ran / elapsed seconds; the backlog left is reported.
//
// Consumers run in --processes child processes (Node runs JavaScript on one thread, so a
// second process is how these libraries use a second core); producers run in the parent.
// The child processes connect first and only start consuming on a "go" message, so process
// start-up and module loading are not timed. Nothing here depends on a library: the peer's
// bench.mjs passes an adapter (see graphile/bench.mjs and pgboss/bench.mjs).
//
// Output: progress lines on stderr, one JSON line on stdout.

import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const now = () => Number(process.hrtime.bigint()) / 1e9;

// `--name value` and `--name=value` flags; the first bare word is the strategy.
function parseArgs(argv, defaults) {
  const cfg = { ...defaults };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    let key = arg.slice(2);
    let value;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else {
      value = argv[++i];
    }
    const name = key.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(name in defaults)) throw new Error(`unknown option --${key}`);
    if (value === undefined) throw new Error(`--${key} needs a value`);
    cfg[name] = typeof defaults[name] === 'number' ? Number(value) : value;
    if (typeof defaults[name] === 'number' && !Number.isFinite(cfg[name])) {
      throw new Error(`--${key} needs a number, got "${value}"`);
    }
  }
  if (rest.length) cfg.strategy = rest[0];
  return cfg;
}

export function packageVersion(url) {
  return JSON.parse(readFileSync(new URL(url), 'utf8')).version;
}

// One connection for an adapter's own bookkeeping queries (counting what is left,
// the server version), opened on first use. `pg` is the peer's own node-postgres.
export function adminConnection(pg) {
  let pool = null;
  const get = (cfg) => (pool ??= new pg.Pool({ connectionString: cfg.dsn, max: 1 }));
  return {
    query: (cfg, text, params) => get(cfg).query(text, params),
    async serverVersion(cfg) {
      const { rows } = await get(cfg).query('SHOW server_version');
      return rows[0].server_version;
    },
    async close() {
      if (pool) await pool.end();
    },
  };
}

const commonDefaults = {
  strategy: 'drain',
  jobs: 100000, // drain
  time: 10, // throughput, seconds
  processes: 1,
  producers: 1,
  enqueueBatch: 10,
  bulkChunk: 5000, // jobs per batch call while pre-filling for drain
  timeout: 600, // give up (exit 1) after this many seconds of consuming
};

function usage(adapter) {
  const peer = Object.entries(adapter.defaults)
    .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} ${v}`)
    .join(' ');
  return (
    `usage: PGQ_BENCH_DSN=postgresql://... node bench.mjs drain|throughput ` +
    `[--jobs 100000] [--time 10] [--processes 1] [--producers 1] [--enqueue-batch 10] ${peer}`
  );
}

// ---------------------------------------------------------------------------------------------
// Child: one consumer process.

async function child(adapter, cfg) {
  let count = 0;
  let sent = -1;
  const onJobs = (n) => {
    count += n;
  };
  const consumer = await adapter.openConsumer(cfg, onJobs);
  const ticker = setInterval(() => {
    if (count !== sent) {
      sent = count;
      process.send({ type: 'count', count });
    }
  }, 20);
  process.on('message', async (msg) => {
    try {
      if (msg.type === 'go') {
        await consumer.start();
      } else if (msg.type === 'report') {
        process.send({ type: 'report', count });
      } else if (msg.type === 'stop') {
        clearInterval(ticker);
        await consumer.stop();
        process.send({ type: 'stopped', count }, () => process.exit(0));
      }
    } catch (err) {
      console.error(`${adapter.name} consumer: ${err.stack || err}`);
      process.exit(1);
    }
  });
  process.send({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// Parent.

class Children {
  constructor(adapter, cfg) {
    this.procs = [];
    this.counts = [];
    this.waiters = [];
    this.failed = null;
    this.finished = false;
    for (let i = 0; i < cfg.processes; i++) {
      const proc = fork(process.argv[1], process.argv.slice(2), {
        env: { ...process.env, PGQ_BENCH_CHILD: String(i) },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      this.counts.push(0);
      proc.on('message', (msg) => {
        if (msg.count !== undefined) this.counts[i] = msg.count;
        this.notify(i, msg);
      });
      proc.on('exit', (code, signal) => {
        if (!this.finished && (code !== 0 || signal)) {
          this.failed = new Error(`consumer process ${i} exited (${signal || code})`);
          for (const w of this.waiters.splice(0)) w.reject(this.failed);
        }
        this.notify(i, { type: 'exit' });
      });
      this.procs.push(proc);
    }
  }

  notify(i, msg) {
    for (const w of [...this.waiters]) {
      if (w.type === msg.type && w.pending.delete(i) && w.pending.size === 0) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    if (this.onCount && msg.type === 'count') this.onCount(this.total());
  }

  // Resolves once every child has sent `type`.
  all(type) {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiters.push({ type, pending: new Set(this.procs.keys()), resolve, reject });
    });
  }

  send(msg) {
    for (const p of this.procs) p.send(msg);
  }

  total() {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  async stop() {
    this.finished = true;
    const exited = this.procs.map(
      (p) => new Promise((resolve) => (p.exitCode !== null ? resolve() : p.on('exit', resolve))),
    );
    const stopped = this.all('stopped').catch(() => {});
    this.send({ type: 'stop' });
    await stopped;
    await Promise.all(exited);
  }

  kill() {
    this.finished = true;
    for (const p of this.procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}

function progress(line) {
  process.stderr.write(`${line}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function drain(adapter, cfg) {
  // Pre-fill (not timed).
  const producer = await adapter.openProducer(cfg);
  const fillStart = now();
  for (let done = 0; done < cfg.jobs; ) {
    const n = Math.min(cfg.bulkChunk, cfg.jobs - done);
    await producer.enqueue(n, done);
    done += n;
  }
  await producer.close();
  const fillSeconds = now() - fillStart;
  const queued = await adapter.remaining(cfg);
  if (queued !== cfg.jobs) throw new Error(`expected ${cfg.jobs} queued jobs, found ${queued}`);
  progress(`${adapter.name} drain: enqueued ${cfg.jobs} jobs in ${fillSeconds.toFixed(2)} s`);

  const kids = new Children(adapter, cfg);
  try {
    await kids.all('ready');
    const allRan = new Promise((resolve) => {
      kids.onCount = (total) => {
        if (total >= cfg.jobs) resolve();
      };
    });
    const t0 = now();
    kids.send({ type: 'go' });
    let lastReport = t0;
    const ticker = setInterval(() => {
      const t = now();
      if (t - lastReport >= 2) {
        lastReport = t;
        const n = kids.total();
        progress(
          `${adapter.name} drain: ${n}/${cfg.jobs} run, ${Math.round(n / (t - t0))} jobs/s`,
        );
      }
    }, 250);
    const deadline = sleep(cfg.timeout * 1000).then(() => {
      throw new Error(`drain did not finish in ${cfg.timeout} s (${kids.total()} run)`);
    });
    const failed = kids.all('never'); // rejects when a consumer process dies
    failed.catch(() => {});
    deadline.catch(() => {});
    await Promise.race([allRan, deadline, failed]);
    // Every handler ran; the drain ends when the last completion is committed.
    let left;
    while ((left = await adapter.remaining(cfg)) > 0) {
      if (kids.failed) throw kids.failed;
      if (now() - t0 > cfg.timeout) throw new Error(`${left} jobs still unfinished`);
      await sleep(5);
    }
    const elapsed = now() - t0;
    clearInterval(ticker);
    const ran = kids.total();
    await kids.stop();
    return { elapsed, jobs: cfg.jobs, ran, rate: cfg.jobs / elapsed, queued_left: 0 };
  } catch (err) {
    kids.kill();
    throw err;
  }
}

async function throughput(adapter, cfg) {
  const producers = [];
  for (let i = 0; i < cfg.producers; i++) producers.push(await adapter.openProducer(cfg));
  const kids = new Children(adapter, cfg);
  try {
    await kids.all('ready');
    let stopping = false;
    let enqueued = 0;
    const t0 = now();
    kids.send({ type: 'go' });
    const loops = producers.map(async (p) => {
      while (!stopping) {
        await p.enqueue(cfg.enqueueBatch, enqueued);
        enqueued += cfg.enqueueBatch;
      }
    });
    const failed = kids.all('never'); // rejects when a consumer process dies
    failed.catch(() => {});
    const end = t0 + cfg.time;
    while (now() < end) {
      await Promise.race([sleep(Math.min(2000, Math.max(1, (end - now()) * 1000))), failed]);
      const t = now();
      const n = kids.total();
      progress(
        `${adapter.name} throughput: ${(t - t0).toFixed(1)} s, ${n} run, ` +
          `${Math.round(n / (t - t0))} jobs/s, ${enqueued} enqueued`,
      );
    }
    // The count at the deadline: ask every child for its exact number.
    const reported = kids.all('report');
    const elapsed = now() - t0;
    kids.send({ type: 'report' });
    await Promise.race([reported, failed]);
    const ran = kids.total();
    stopping = true;
    await Promise.all(loops);
    await kids.stop();
    for (const p of producers) await p.close();
    const queued_left = await adapter.remaining(cfg);
    return {
      elapsed,
      jobs: ran,
      ran,
      enqueued,
      rate: ran / Math.max(elapsed, 1),
      queued_left,
    };
  } catch (err) {
    kids.kill();
    throw err;
  }
}

async function pgVersion(adapter, cfg) {
  try {
    return await adapter.serverVersion(cfg);
  } catch {
    return null;
  }
}

export async function main(adapter) {
  const defaults = { ...commonDefaults, ...adapter.defaults };
  let cfg;
  try {
    cfg = parseArgs(process.argv.slice(2), defaults);
    if (!['drain', 'throughput'].includes(cfg.strategy)) throw new Error('strategy?');
    cfg.dsn = process.env.PGQ_BENCH_DSN;
    if (!cfg.dsn) throw new Error('PGQ_BENCH_DSN is not set');
  } catch (err) {
    console.error(`${adapter.name} bench: ${err.message}\n${usage(adapter)}`);
    process.exit(2);
  }

  if (process.env.PGQ_BENCH_CHILD !== undefined) {
    await child(adapter, cfg);
    return;
  }

  try {
    await adapter.prepare(cfg);
    const result = cfg.strategy === 'drain' ? await drain(adapter, cfg) : await throughput(adapter, cfg);
    const out = {
      system: adapter.name,
      version: adapter.version,
      strategy: cfg.strategy,
      processes: cfg.processes,
      config: adapter.describe(cfg),
      producers: cfg.strategy === 'throughput' ? cfg.producers : undefined,
      enqueue_batch: cfg.strategy === 'throughput' ? cfg.enqueueBatch : undefined,
      elapsed: Number(result.elapsed.toFixed(3)),
      jobs: result.jobs,
      enqueued: result.enqueued,
      rate: Math.round(result.rate),
      queued_left: result.queued_left,
      pg_version: await pgVersion(adapter, cfg),
      node_version: process.version,
      nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    };
    progress(
      `${adapter.name} ${cfg.strategy}: ${out.jobs} jobs in ${out.elapsed} s = ${out.rate} jobs/s` +
        ` (${out.config}, ${cfg.processes} process(es))`,
    );
    process.stdout.write(JSON.stringify(out) + '\n');
    await adapter.close?.();
    process.exit(0);
  } catch (err) {
    console.error(`${adapter.name} bench: ${err.stack || err}`);
    process.exit(1);
  }
}
