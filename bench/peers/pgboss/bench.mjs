// pg-boss under pgq's drain / throughput workloads (see ../common.mjs).
//
//   PGQ_BENCH_DSN=postgresql://... node bench.mjs drain --jobs 100000 --processes 2
//   PGQ_BENCH_DSN=postgresql://... node bench.mjs throughput --time 10
//
// Consumers: --workers boss.work() loops per process, each fetching --batch jobs at a time
// (pg-boss completes the whole batch when the handler returns). A work() loop waits out the
// rest of its polling interval (minimum 0.5 s) after every fetch, full or not, so a loop
// tops out at batch / 0.5 s jobs per second; --mode fetch runs the same fetch and complete
// calls (boss.fetch + boss.complete) in a tight loop instead, the default.
// The schema is pgboss (installed by start()); run it on its own database.

import PgBoss from 'pg-boss';
import pg from 'pg';

import { adminConnection, main, packageVersion } from '../common.mjs';

const QUEUE = 'noop';

// Options for instances that only produce or consume: no maintenance or cron timers.
function bossOptions(cfg, max) {
  return { connectionString: cfg.dsn, max, supervise: false, schedule: false, migrate: false };
}

async function startBoss(options) {
  const boss = new PgBoss(options);
  boss.on('error', (err) => console.error(`pg-boss: ${err.message}`));
  await boss.start();
  return boss;
}

const admin = adminConnection(pg);

const adapter = {
  name: 'pg-boss',
  version: packageVersion(new URL('./node_modules/pg-boss/package.json', import.meta.url)),
  // Fastest of the configurations tried on the 2-core reference machine (docs/benchmarks.md):
  // fetch loops with large batches, because every fetch sorts all eligible rows of the queue.
  defaults: {
    mode: 'fetch',
    workers: 4,
    batch: 1000,
    poolSize: 10,
    pollInterval: 0.5,
  },

  describe(cfg) {
    return (
      `${cfg.mode} x${cfg.workers} batchSize=${cfg.batch} max=${cfg.poolSize}` +
      (cfg.mode === 'work' ? ` pollingIntervalSeconds=${cfg.pollInterval}` : '')
    );
  },

  async prepare(cfg) {
    // Installs (or migrates) the schema, then starts from an empty queue.
    const boss = await startBoss({ connectionString: cfg.dsn, max: 2, supervise: false, schedule: false });
    await boss.deleteQueue(QUEUE).catch(() => {});
    await boss.createQueue(QUEUE);
    await boss.stop({ graceful: false, wait: true });
  },

  async openProducer(cfg) {
    const boss = await startBoss(bossOptions(cfg, 1));
    return {
      // One insert() per batch (pg-boss's batch API: a single INSERT of a JSON array).
      async enqueue(n, seq) {
        const jobs = new Array(n);
        for (let i = 0; i < n; i++) jobs[i] = { name: QUEUE, data: { n: seq + i } };
        await boss.insert(jobs);
      },
      close: () => boss.stop({ graceful: false, wait: true }),
    };
  },

  async openConsumer(cfg, onJobs) {
    const boss = await startBoss(bossOptions(cfg, cfg.poolSize));
    const handler = async (jobs) => {
      onJobs(jobs.length);
    };
    let running = false;
    const loops = [];
    return {
      async start() {
        running = true;
        for (let i = 0; i < cfg.workers; i++) {
          if (cfg.mode === 'work') {
            await boss.work(
              QUEUE,
              { batchSize: cfg.batch, pollingIntervalSeconds: cfg.pollInterval },
              handler,
            );
          } else {
            loops.push(
              (async () => {
                while (running) {
                  const jobs = await boss.fetch(QUEUE, { batchSize: cfg.batch });
                  if (jobs.length === 0) {
                    await new Promise((r) => setTimeout(r, cfg.pollInterval * 1000));
                    continue;
                  }
                  await handler(jobs);
                  await boss.complete(QUEUE, jobs.map((j) => j.id));
                }
              })(),
            );
          }
        }
      },
      async stop() {
        running = false;
        await Promise.all(loops);
        await boss.stop({ graceful: true, wait: true, timeout: 30000 });
      },
    };
  },

  // Jobs not yet completed (pg-boss keeps completed rows until its maintenance archives them).
  async remaining(cfg) {
    const { rows } = await admin.query(
      cfg,
      "SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state < 'completed'",
      [QUEUE],
    );
    return rows[0].n;
  },

  serverVersion: admin.serverVersion,
  close: admin.close,
};

await main(adapter);
