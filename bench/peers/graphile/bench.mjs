// graphile-worker under pgq's drain / throughput workloads (see ../common.mjs).
//
//   PGQ_BENCH_DSN=postgresql://... node bench.mjs drain --jobs 100000 --processes 2
//   PGQ_BENCH_DSN=postgresql://... node bench.mjs throughput --time 10 --processes 2
//
// Defaults are graphile-worker's batched configuration from its performance page
// (concurrentJobs 24, pool 25, localQueue 500, batched completion with delay 0);
// --local-queue -1 and --complete-delay -1 give the unbatched mode.
// The schema is graphile_worker (installed here with runMigrations); run it on its own database.

import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import pg from 'pg';

import { adminConnection, main, packageVersion } from '../common.mjs';

const silent = new Logger(() => () => {});
const TASK = 'noop';

function workerPreset(cfg) {
  const worker = {
    connectionString: cfg.dsn,
    concurrentJobs: cfg.concurrency,
    maxPoolSize: cfg.poolSize,
    pollInterval: cfg.pollInterval,
    completeJobBatchDelay: cfg.completeDelay,
    failJobBatchDelay: cfg.completeDelay,
  };
  if (cfg.localQueue > 1) worker.localQueue = { size: cfg.localQueue };
  return { worker };
}

const admin = adminConnection(pg);

const adapter = {
  name: 'graphile-worker',
  version: packageVersion(new URL('./node_modules/graphile-worker/package.json', import.meta.url)),
  defaults: {
    concurrency: 24,
    poolSize: 25,
    localQueue: 500,
    completeDelay: 0,
    pollInterval: 2000,
  },

  describe(cfg) {
    return (
      `concurrentJobs=${cfg.concurrency} maxPoolSize=${cfg.poolSize} ` +
      `localQueue=${cfg.localQueue} completeJobBatchDelay=${cfg.completeDelay}`
    );
  },

  async prepare(cfg) {
    await runMigrations({ connectionString: cfg.dsn, logger: silent });
    // A re-run on the same database starts from an empty queue.
    await admin.query(cfg, 'DELETE FROM graphile_worker._private_jobs');
  },

  async openProducer(cfg) {
    const utils = await makeWorkerUtils({ connectionString: cfg.dsn, maxPoolSize: 2, logger: silent });
    return {
      // One add_jobs call per batch (graphile's batch API).
      async enqueue(n, seq) {
        const specs = new Array(n);
        for (let i = 0; i < n; i++) specs[i] = { identifier: TASK, payload: { n: seq + i } };
        await utils.addJobs(specs);
      },
      close: () => utils.release(),
    };
  },

  async openConsumer(cfg, onJobs) {
    // Connect the pool up front so that "go" starts consuming at once.
    const pool = new pg.Pool({ connectionString: cfg.dsn, max: cfg.poolSize });
    const report = (err) => console.error(`graphile-worker pool: ${err.message}`);
    pool.on('error', report);
    pool.on('connect', (client) => client.on('error', report));
    const clients = await Promise.all(
      Array.from({ length: Math.min(cfg.poolSize, cfg.concurrency + 1) }, () => pool.connect()),
    );
    for (const c of clients) c.release();
    let runner = null;
    return {
      async start() {
        runner = await run({
          pgPool: pool,
          logger: silent,
          noHandleSignals: true,
          preset: workerPreset(cfg),
          taskList: {
            [TASK]: async () => {
              onJobs(1);
            },
          },
        });
      },
      async stop() {
        if (runner) await runner.stop();
        await pool.end();
      },
    };
  },

  // Jobs not yet completed (completing a job deletes it).
  async remaining(cfg) {
    const { rows } = await admin.query(
      cfg,
      'SELECT count(*)::int AS n FROM graphile_worker._private_jobs',
    );
    return rows[0].n;
  },

  serverVersion: admin.serverVersion,
  close: admin.close,
};

await main(adapter);
