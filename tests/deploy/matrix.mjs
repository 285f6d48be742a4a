// Cross-object rules over rendered sets, beyond validate.mjs (tests/scripts/deploy_matrix.sh
// runs this over every chart combination and kustomize overlay + component):
//
//   node matrix.mjs --yaml2json PGQ_RENDER [--markers FILE] [--notes-dir DIR]
//                   [--unfiltered-sets SET,...] [--namespace-alerts] SET.json...
//
//  - selectors: every worker Deployment's selector is a subset of its pod template's labels;
//    each Service, ServiceMonitor (through its Services), PodMonitor, PodDisruptionBudget and
//    NetworkPolicy selects worker pods and no other pod of the set (migration Job, prune
//    CronJob, test pod);
//  - NetworkPolicy egress: when the policy restricts egress, every database port a worker
//    connects to (config.database.port, the listener's port, the port of a chart-made DSN;
//    5432 by default) and DNS are allowed;
//  - no secrets (--markers: one marker a line): no marker in a ConfigMap, a container's
//    command, args or env value, any annotation, or NOTES.txt (--notes-dir DIR/SET.txt);
//  - KEDA: the TriggerAuthentication reads only keys the workers mount from the same Secret
//    (no second copy of the password); the generated query keeps its entrypoint filter
//    (--unfiltered-sets: sets that turn it off on purpose);
//    a worker with schedules is never scaled to zero;
//  - prune CronJob: the workers' own pruning is off (retention ages 0s), a run has a
//    deadline, and with alerts an alert watches the CronJob's Jobs (kube-state-metrics);
//  - alerts: runbook_url absolute, no runbook uses wget, KEDA alerts only with a
//    ScaledObject, and in kustomize sets (--namespace-alerts:
//    rules without a namespace matcher) no rule aggregates over every namespace;
//  - scheduling: every worker Deployment spreads its pods (topologySpreadConstraints or pod
//    anti-affinity); with several worker groups, the monitors carry the group as label group.
//
// Exit status 0 when every rule holds, 1 otherwise (every problem printed).

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";

const args = process.argv.slice(2);
const opts = {};
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--namespace-alerts") opts[args[i].slice(2)] = true;
  else if (args[i].startsWith("--")) opts[args[i].slice(2)] = args[++i];
  else files.push(args[i]);
}
// Sets whose values turn the KEDA query's entrypoint filter off on purpose (filterEntrypoints: false).
const unfiltered = new Set((opts["unfiltered-sets"] ?? "").split(",").filter(Boolean));
const markers = opts.markers ? readFileSync(opts.markers, "utf8").split("\n").filter(Boolean) : [];

const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);
const describe = (o) => `${o.kind}/${o.metadata?.name ?? "?"}`;

function parseYaml(text) {
  const out = execFileSync(opts.yaml2json, ["yaml2json"], { input: text, encoding: "utf8" });
  return JSON.parse(out)[0]?.object ?? {};
}

// A matchLabels (or a LabelSelector with matchLabels only) against labels.
function matches(selector, labels) {
  const sel = selector?.matchLabels ?? selector;
  if (!sel || Object.keys(sel).length === 0) return false;
  if ((selector?.matchExpressions ?? []).length > 0) return false;
  return Object.entries(sel).every(([k, v]) => labels?.[k] === v);
}

function podTemplates(objs) {
  const out = [];
  for (const o of objs) {
    if (o.kind === "Pod") out.push({ owner: o, labels: o.metadata?.labels ?? {}, spec: o.spec });
    if (["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(o.kind)) {
      const t = o.spec?.template;
      out.push({ owner: o, labels: t?.metadata?.labels ?? {}, annotations: t?.metadata?.annotations, spec: t?.spec });
    }
    if (o.kind === "CronJob") {
      const t = o.spec?.jobTemplate?.spec?.template;
      out.push({ owner: o, labels: t?.metadata?.labels ?? {}, annotations: t?.metadata?.annotations, spec: t?.spec });
    }
  }
  return out;
}

const isWorker = (p) => p.owner.kind === "Deployment" && p.spec?.containers?.[0]?.name === "worker";

function checkSelects(where, selector, pods) {
  const hit = pods.filter((p) => matches(selector, p.labels));
  if (hit.length === 0) problem(where, "selects no worker pod");
  for (const p of hit.filter((p) => !isWorker(p))) problem(where, `also selects the pods of ${describe(p.owner)}`);
  return hit;
}

function workerConfig(objs, d) {
  const vol = (d.spec.template.spec.volumes ?? []).find((v) => v.name === "config");
  const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === vol?.configMap?.name);
  const text = cm?.data?.["config.yaml"];
  return text ? parseYaml(text) : null;
}

// The Secret data of a rendered Secret, decoded.
function secretValue(objs, name, key) {
  const s = objs.find((o) => o.kind === "Secret" && o.metadata.name === name);
  if (!s) return undefined;
  if (s.stringData?.[key] !== undefined) return s.stringData[key];
  if (s.data?.[key] !== undefined) return Buffer.from(s.data[key], "base64").toString("utf8");
  return undefined;
}

// Port of a libpq connection string (URI or key=value); 5432 when it names none.
function dsnPort(dsn) {
  const uri = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?[^/:?]*(?::(\d+))?/.exec(dsn);
  if (uri) return Number(uri[1] ?? 5432);
  const kv = /(?:^|\s)port\s*=\s*'?(\d+)/.exec(dsn);
  return Number(kv?.[1] ?? 5432);
}

// Database ports a worker connects to, from its config and its credential.
function databasePorts(objs, d, cfg) {
  const db = cfg.database ?? {};
  let main = db.port ?? 5432;
  if (db.dsn_file) {
    const vol = (d.spec.template.spec.volumes ?? []).find((v) => v.name === "db-credentials");
    const item = (vol?.secret?.items ?? []).find((it) => it.path === "dsn");
    const dsn = vol?.secret && secretValue(objs, vol.secret.secretName, item?.key ?? "dsn");
    main = dsn === undefined ? null : dsnPort(dsn);
  }
  const ports = [];
  if (main !== null) ports.push(Number(main));
  if (db.listener) ports.push(Number(db.listener.port ?? main ?? 5432));
  return [...new Set(ports)];
}

function egressAllows(np, port, protocol = "TCP") {
  if (!(np.spec.policyTypes ?? []).includes("Egress")) return true;
  return (np.spec.egress ?? []).some((rule) => {
    if (!rule.ports || rule.ports.length === 0) return true;
    return rule.ports.some((p) => (p.protocol ?? "TCP") === protocol &&
      (p.port === undefined || p.port === port || (p.endPort !== undefined && port >= p.port && port <= p.endPort)));
  });
}

function scanMarkers(where, value) {
  if (markers.length === 0 || value === undefined || value === null) return;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  for (const m of markers) if (text.includes(m)) problem(where, `holds the secret marker ${m}`);
}

function rules(objs) {
  return objs.filter((o) => o.kind === "PrometheusRule").flatMap((r) =>
    (r.spec?.groups ?? []).flatMap((g) => g.rules ?? []).filter((x) => x.alert));
}

let total = 0;
for (const file of files) {
  const set = basename(file, ".json");
  const objs = JSON.parse(readFileSync(file, "utf8")).map((it) => it.object);
  total += objs.length;
  const pods = podTemplates(objs);
  const workers = objs.filter((o) => o.kind === "Deployment" && o.spec?.template?.spec?.containers?.[0]?.name === "worker");
  const byKind = (k) => objs.filter((o) => o.kind === k);

  // Selectors.
  for (const d of workers) {
    if (!matches(d.spec.selector, d.spec.template.metadata?.labels)) {
      problem(`${set}: ${describe(d)}`, "selector is not a subset of the pod template labels (the API server rejects it)");
    }
  }
  for (const s of byKind("Service")) checkSelects(`${set}: ${describe(s)}`, s.spec.selector, pods);
  for (const pdb of byKind("PodDisruptionBudget")) checkSelects(`${set}: ${describe(pdb)}`, pdb.spec.selector, pods);
  for (const np of byKind("NetworkPolicy")) checkSelects(`${set}: ${describe(np)}`, np.spec.podSelector, pods);
  for (const pm of byKind("PodMonitor")) checkSelects(`${set}: ${describe(pm)}`, pm.spec.selector, pods);
  for (const sm of byKind("ServiceMonitor")) {
    const svcs = byKind("Service").filter((s) => matches(sm.spec.selector, s.metadata.labels));
    if (svcs.length === 0) problem(`${set}: ${describe(sm)}`, "selects no Service, so it scrapes nothing");
    for (const s of svcs) checkSelects(`${set}: ${describe(sm)} through ${describe(s)}`, s.spec.selector, pods);
  }

  // NetworkPolicy egress covers every endpoint of the configuration.
  const configs = new Map(workers.map((d) => [d, workerConfig(objs, d)]));
  for (const np of byKind("NetworkPolicy")) {
    for (const d of workers.filter((w) => matches(np.spec.podSelector, w.spec.template.metadata?.labels))) {
      const cfg = configs.get(d);
      if (!cfg) continue;
      const where = `${set}: ${describe(np)} for ${describe(d)}`;
      for (const port of databasePorts(objs, d, cfg)) {
        if (!egressAllows(np, port)) problem(where, `egress does not allow TCP ${port}, a database endpoint of the configuration`);
      }
      if (!egressAllows(np, 53, "UDP")) problem(where, "egress does not allow DNS (UDP 53)");
    }
  }

  // No secrets outside Secrets.
  for (const o of objs) {
    scanMarkers(`${set}: ${describe(o)} annotations`, o.metadata?.annotations);
    if (o.kind === "ConfigMap") scanMarkers(`${set}: ${describe(o)} data`, o.data);
    for (const p of pods.filter((x) => x.owner === o)) {
      scanMarkers(`${set}: ${describe(o)} pod template annotations`, p.annotations);
      for (const c of [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])]) {
        scanMarkers(`${set}: ${describe(o)} container ${c.name} command/args`, [...(c.command ?? []), ...(c.args ?? [])]);
        scanMarkers(`${set}: ${describe(o)} container ${c.name} env`, (c.env ?? []).map((e) => e.value ?? ""));
      }
    }
  }
  if (opts["notes-dir"] && existsSync(`${opts["notes-dir"]}/${set}.txt`)) {
    const notes = readFileSync(`${opts["notes-dir"]}/${set}.txt`, "utf8");
    scanMarkers(`${set}: NOTES.txt`, notes);
    if (/--from-literal=password|postgres(ql)?:\/\/[^@\s]*:[^@\s]*@|--dsn\s/i.test(notes)) {
      problem(`${set}: NOTES.txt`, "shows a password or a connection string on a command line");
    }
  }

  // KEDA.
  for (const so of byKind("ScaledObject")) {
    const where = `${set}: ${describe(so)}`;
    const d = workers.find((w) => w.metadata.name === so.spec.scaleTargetRef?.name);
    const cfg = d && configs.get(d);
    for (const t of so.spec.triggers ?? []) {
      const q = t.metadata?.query ?? "";
      if (t.type === "postgresql" && /pgqueuer/.test(q) && !/entrypoint IN \(/.test(q) && !unfiltered.has(set)) {
        problem(where, "the query has no entrypoint filter: it counts every job of the table, other fleets' too");
      }
      const auth = objs.find((o) => o.kind === "TriggerAuthentication" && o.metadata.name === t.authenticationRef?.name);
      const vol = d && (d.spec.template.spec.volumes ?? []).find((v) => v.name === "db-credentials");
      const mounted = new Set((vol?.secret?.items ?? []).map((it) => it.key));
      for (const ref of auth?.spec?.secretTargetRef ?? []) {
        if (ref.name !== vol?.secret?.secretName || (mounted.size > 0 && !mounted.has(ref.key))) {
          problem(where, `KEDA reads ${ref.name}/${ref.key}, which the workers do not mount: a second copy of the credential`);
        }
      }
    }
    if (cfg && Object.keys(cfg.schedules ?? {}).length > 0 && (so.spec.minReplicaCount ?? 0) < 1) {
      problem(where, "scales a worker with schedules to zero: nothing runs the schedules then");
    }
  }

  // Prune CronJob.
  const alerts = rules(objs);
  for (const cron of byKind("CronJob")) {
    const c = cron.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0];
    if (!c || ![...(c.command ?? []), ...(c.args ?? [])].includes("prune")) continue;
    const where = `${set}: ${describe(cron)}`;
    if (!(cron.spec.jobTemplate.spec.activeDeadlineSeconds > 0)) {
      problem(where, "no activeDeadlineSeconds: with concurrencyPolicy Forbid one hung run blocks every later one");
    }
    for (const [d, cfg] of configs) {
      const r = cfg?.retention ?? {};
      for (const k of ["log_older_than", "held_older_than", "statistics_older_than"]) {
        if (r[k] === undefined || !/^0+(ms|s|m|h|d)?$/.test(String(r[k]))) {
          problem(where, `${describe(d)} still prunes by itself (retention.${k} ${r[k] ?? "default"}): both would prune`);
        }
      }
    }
    if (byKind("PrometheusRule").length > 0 && !alerts.some((a) => /kube_job_status_failed|kube_job_failed/.test(a.expr) && a.expr.includes(cron.metadata.name))) {
      problem(where, "no alert watches the CronJob's failed Jobs (kube_job_status_failed)");
    }
  }

  // Alerts.
  const keda = byKind("ScaledObject").length > 0;
  for (const a of alerts) {
    const where = `${set}: alert ${a.alert}`;
    const url = a.annotations?.runbook_url;
    if (url !== undefined && !/^https?:\/\//.test(url)) problem(where, `runbook_url ${url} is not absolute`);
    if (/\bwget\b/.test(JSON.stringify(a.annotations ?? {}))) problem(where, "the runbook uses wget, which the image does not have");
    if (!keda && /keda/i.test(`${a.alert} ${a.expr}`)) {
      problem(where, "a KEDA alert without a ScaledObject");
    }
    // An aggregation without by/without merges every namespace's series: another
    // namespace's ready workers would hide this one's outage.
    if (opts["namespace-alerts"] && /pgq_/.test(a.expr) && /\b(sum|count|max|min|avg)\s*\(/.test(a.expr)) {
      problem(where, "aggregates over every namespace (no by (namespace)): another namespace's workers hide this one's outage");
    }
  }

  // Scheduling and monitoring of groups.
  for (const d of workers) {
    const s = d.spec.template.spec;
    if ((s.topologySpreadConstraints ?? []).length === 0 && !s.affinity?.podAntiAffinity) {
      problem(`${set}: ${describe(d)}`, "no topology spread and no pod anti-affinity: all replicas may land on one node");
    }
  }
  if (workers.length > 1) {
    for (const m of [...byKind("ServiceMonitor"), ...byKind("PodMonitor")]) {
      const eps = m.spec.endpoints ?? m.spec.podMetricsEndpoints ?? [];
      const grouped = eps.length > 0 && eps.every((ep) => (ep.relabelings ?? []).some((r) => r.targetLabel === "group" &&
        (r.sourceLabels ?? []).some((l) => /worker_group/.test(l))));
      if (!grouped) problem(`${set}: ${describe(m)}`, "the worker group does not reach the metrics (no relabeling to label group)");
    }
  }
}

if (problems.length > 0) {
  console.log(`FAILED: ${problems.length} problem(s) in ${files.length} sets:`);
  for (const p of problems) console.log(`  - ${p}`);
  process.exit(1);
}
console.log(`  cross-object rules hold: ${files.length} sets, ${total} objects`);
