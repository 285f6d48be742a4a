// Summary of a soak run (bench/soak/soak.sh): reads samples.csv and the
// workers' final job and prune counters, prints what stayed flat and what grew.
//   node summary.mjs SAMPLES_CSV COUNTERS_TXT PRODUCED WORKERS
import { readFileSync } from "node:fs";

const [samplesPath, countersPath, producedText, workersText] = process.argv.slice(2);
const lines = readFileSync(samplesPath, "utf8").trim().split("\n");
const header = lines[0].split(",");
const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], Number(v)])));
const workers = Number(workersText);
const last = rows[rows.length - 1];
const end = last.elapsed_s;
// The last 10 minutes of the run (the final sample, taken after the drain, included).
const window = rows.filter((r) => r.elapsed_s >= end - 600);
const first = window[0];

const mib = (b) => (b / 1048576).toFixed(1);
const growth = (key) => (100 * (last[key] - first[key])) / first[key];
// Least-squares slope of y over elapsed minutes.
const slope = (key) => {
  const xs = window.map((r) => r.elapsed_s / 60), ys = window.map((r) => r[key]);
  const mx = xs.reduce((a, b) => a + b) / xs.length, my = ys.reduce((a, b) => a + b) / ys.length;
  let num = 0, den = 0;
  xs.forEach((x, i) => { num += (x - mx) * (ys[i] - my); den += (x - mx) ** 2; });
  return den ? num / den : 0;
};
const max = (key) => Math.max(...rows.map((r) => r[key]));
const min = (key) => Math.min(...rows.map((r) => r[key]));

console.log(`samples: ${rows.length}, ${end} s; last-10-minute window from ${first.elapsed_s} s`);
for (let w = 1; w <= workers; w++) {
  const p = `w${w}_`;
  console.log(`worker ${w}: RSS ${(rows[0][p + "rss_kib"] / 1024).toFixed(1)} -> ${(last[p + "rss_kib"] / 1024).toFixed(1)} MiB, ` +
    `slope over the last 10 min ${slope(p + "rss_kib").toFixed(1)} KiB/min; threads ${min(p + "threads")}-${max(p + "threads")}, ` +
    `FDs ${min(p + "fds")}-${max(p + "fds")}, zombies max ${max(p + "zombies")}, connections ${min(p + "conns")}-${max(p + "conns")}`);
}
console.log(`backlog max ${max("backlog")}, at the end ${last.backlog}; held jobs max ${max("held")}, at the end ${last.held}; statistics rows max ${max("statistics_rows")}`);
console.log(`queue table: ${mib(first.queue_bytes)} -> ${mib(last.queue_bytes)} MiB over the last 10 min (${growth("queue_bytes").toFixed(1)} %), ${last.queue_rows} rows at the end`);
console.log(`log table:   ${mib(first.log_bytes)} -> ${mib(last.log_bytes)} MiB over the last 10 min (${growth("log_bytes").toFixed(1)} %); ` +
  `heap ${mib(last.log_heap_bytes)} MiB; ${last.log_rows} rows at the end; max ${mib(max("log_bytes"))} MiB`);
console.log(`log primary key: leaf pages ${first.log_pk_leaf_pages} -> ${last.log_pk_leaf_pages} over the last 10 min (${growth("log_pk_leaf_pages").toFixed(1)} %), ` +
  `average leaf density ${first.log_pk_leaf_density} -> ${last.log_pk_leaf_density} %`);
const fixed = new Set(["elapsed_s", "backlog", "held", "queue_rows", "queue_bytes", "log_rows", "log_bytes", "log_heap_bytes",
  "log_pk_leaf_pages", "log_pk_leaf_density", "statistics_rows"]);
for (const key of header) {
  if (fixed.has(key) || /^w\d+_/.test(key)) continue;
  console.log(`  index ${key}: ${mib(first[key])} -> ${mib(last[key])} MiB over the last 10 min (${growth(key).toFixed(1)} %)`);
}

// Final job outcomes (retries are not final) and pruned rows, summed over the workers.
const totals = {};
for (const line of readFileSync(countersPath, "utf8").split("\n")) {
  const m = line.match(/^(pgq_\w+)\{([^}]*)\} ([0-9.e+]+)$/);
  if (!m) continue;
  const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
  const key = m[1] === "pgq_jobs_total" ? `jobs ${labels.outcome}` : `pruned ${labels.table}`;
  totals[key] = (totals[key] ?? 0) + Number(m[3]);
}
const final = ["successful", "exception", "canceled", "failed"].reduce((s, o) => s + (totals[`jobs ${o}`] ?? 0), 0);
console.log(`jobs: produced ${producedText}, finished ${final} (${Object.entries(totals).map(([k, v]) => `${k} ${v}`).join(", ")})`);
console.log(final === Number(producedText) ? "every produced job is accounted for" : `MISMATCH: ${Number(producedText) - final} jobs unaccounted`);
