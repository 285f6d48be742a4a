// Over 400 lines on purpose: the schema validation and the cross-object checks share one index of each rendered set.
// Validate rendered Kubernetes objects offline (tests/scripts/deploy_contract.sh runs this).
//
//   node validate.mjs [options] OBJECTS.json...
//
// OBJECTS.json is what `pgq-render template --json` or `pgq-render yaml2json` writes: an
// array of {source, object}. Each file is one deployable set (a chart scenario or a kustomize
// overlay) and is checked as a whole:
//
//  1. schema: every object against its Kubernetes / KEDA / Prometheus Operator schema
//     (npm kubernetes-models), plus unknown fields, which those schemas let through: a field
//     the schema's validator never looked up is reported (like kubectl --validate=strict);
//  2. references: selectors match the pods, Services/ServiceMonitors/PDBs/autoscalers point at
//     objects and ports that exist, mounts have volumes, an autoscaled Deployment has no
//     spec.replicas, HPA and KEDA never target the same Deployment;
//  3. secure defaults of every pod: non-root, read-only root filesystem, no privilege
//     escalation, all capabilities dropped, seccomp RuntimeDefault, no service account token;
//  4. the migration Job (container "migrate"): `pgq migrate --config /etc/pgq/config.yaml`,
//     the same ConfigMap content and Secret files as the workers, no environment; as a Helm
//     hook: pre-install,pre-upgrade, before-hook-creation, and every object it mounts that the
//     set renders is a hook object of a lower weight (it must exist before the Job); no pod
//     passes a connection string or password in argv or env;
//  5. the worker contract: command, probe paths and port (--expect-*), and the worker
//     configuration in the ConfigMap (--config-keys): only keys the worker knows
//     (config/worker.example.yaml), http.port equal to the container port, the credential
//     file inside the mounted Secret.
//
// Options:
//   --expect-command "pgq run --config /etc/pgq/config.yaml"
//   --expect-port 9090  --expect-liveness /livez  --expect-readiness /readyz
//   --config-keys FILE  JSON of the worker example config (keys allowed in config.yaml)
//   --yaml2json BIN     pgq-render binary, used to parse the embedded config.yaml
//   --summary FILE      append "kind count" lines for the caller's totals
//   --dump-configs DIR  write each set's parsed worker config.yaml to DIR/<set>.json
//
// Exit status 0 when everything holds, 1 otherwise (every problem is printed).

import { execFileSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const args = process.argv.slice(2);
const opts = {};
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith("--")) {
    opts[args[i].slice(2)] = args[++i];
  } else {
    files.push(args[i]);
  }
}
if (files.length === 0) {
  console.error("usage: node validate.mjs [options] OBJECTS.json...");
  process.exit(2);
}

// apiVersion -> module exporting the model classes.
function modulePath(apiVersion) {
  if (apiVersion === "v1") return "kubernetes-models/v1";
  if (apiVersion.startsWith("keda.sh/")) return `@kubernetes-models/keda/${apiVersion}`;
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  }
  return `kubernetes-models/${apiVersion}`;
}

const moduleCache = new Map();
async function modelClass(apiVersion, kind) {
  const path = modulePath(apiVersion);
  if (!moduleCache.has(path)) {
    try {
      moduleCache.set(path, await import(path));
    } catch {
      moduleCache.set(path, null);
    }
  }
  const mod = moduleCache.get(path);
  return mod && typeof mod[kind] === "function" ? mod[kind] : null;
}

// Wrap an object so that every property the validator reads is recorded. After validation,
// an object whose properties were looked up by name (a typed object) but which holds a key
// never looked up has an unknown field. Objects whose keys were enumerated are maps.
function tracked(root) {
  const records = [];
  const proxies = new WeakMap();
  const wrap = (value, path) => {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    const rec = { value, path, looked: new Set(), enumerated: false };
    records.push(rec);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return v;
        rec.looked.add(key);
        return wrap(v, `${path}/${key}`);
      },
      has(target, key) {
        if (typeof key === "string") rec.looked.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        rec.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  return { proxy: wrap(root, ""), records };
}

function unknownFields(records) {
  const out = [];
  for (const rec of records) {
    if (Array.isArray(rec.value) || rec.enumerated || rec.looked.size === 0) continue;
    for (const key of Object.keys(rec.value)) {
      if (!rec.looked.has(key)) out.push(`${rec.path}/${key}`);
    }
  }
  return out;
}

const problems = [];
const counts = {};
let total = 0;

function problem(where, msg) {
  problems.push(`${where}: ${msg}`);
}

function describe(o) {
  return `${o.kind}/${o.metadata?.name ?? "?"}`;
}

function matches(selector, labels) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function podSpecs(o) {
  if (o.kind === "Pod") return [{ spec: o.spec, labels: o.metadata?.labels ?? {} }];
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind)) {
    return [{ spec: o.spec?.template?.spec, labels: o.spec?.template?.metadata?.labels ?? {} }];
  }
  return [];
}

function checkSecurity(where, spec) {
  const psc = spec.securityContext ?? {};
  if (spec.automountServiceAccountToken !== false) {
    problem(where, "automountServiceAccountToken must be false");
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const csc = c.securityContext ?? {};
    const w = `${where} container ${c.name}`;
    if ((csc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problem(w, "runAsNonRoot must be true");
    const uid = csc.runAsUser ?? psc.runAsUser;
    if (uid === 0) problem(w, "runAsUser must not be 0");
    if (csc.readOnlyRootFilesystem !== true) problem(w, "readOnlyRootFilesystem must be true");
    if (csc.allowPrivilegeEscalation !== false) problem(w, "allowPrivilegeEscalation must be false");
    if (csc.privileged === true) problem(w, "privileged must not be true");
    if (!(csc.capabilities?.drop ?? []).includes("ALL")) problem(w, "capabilities.drop must include ALL");
    const seccomp = csc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault") problem(w, "seccompProfile must be RuntimeDefault");
    if (!c.image || /:latest$/.test(c.image)) problem(w, `image must be pinned, got ${c.image}`);
  }
}

function checkPodReferences(where, spec) {
  const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
  for (const c of spec.containers ?? []) {
    const ports = new Set((c.ports ?? []).map((p) => p.name));
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) problem(where, `container ${c.name} mounts unknown volume ${m.name}`);
    }
    for (const probeName of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const port = c[probeName]?.httpGet?.port;
      if (typeof port === "string" && !ports.has(port)) {
        problem(where, `${probeName} uses port ${port}, which container ${c.name} does not name`);
      }
    }
  }
}

const hookWeight = (o) => Number(o.metadata?.annotations?.["helm.sh/hook-weight"] ?? 0);

function checkNoCredentialsInSpec(where, spec) {
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (argv.some((a) => /^--dsn\b|postgres(ql)?:\/\/|password=/i.test(a))) {
      problem(where, `container ${c.name} passes a connection string or password in argv`);
    }
    for (const e of c.env ?? []) {
      if (/PASSWORD|DSN/i.test(e.name) || /postgres(ql)?:\/\/|password=/i.test(e.value ?? "")) {
        problem(where, `container ${c.name} passes a credential in env ${e.name}`);
      }
    }
  }
}

function checkMigrationJob(set, job, objs, workerDeployments) {
  const where = `${set}: ${describe(job)}`;
  const spec = job.spec?.template?.spec ?? {};
  const c = spec.containers?.[0] ?? {};
  const argv = [...(c.command ?? []), ...(c.args ?? [])].join(" ");
  if (!argv.startsWith("pgq migrate --config /etc/pgq/config.yaml")) {
    problem(where, `command is "${argv}", expected pgq migrate --config /etc/pgq/config.yaml ...`);
  }
  if ((c.env ?? []).length > 0) problem(where, "the migration container must not have env");
  if (spec.restartPolicy !== "Never") problem(where, "restartPolicy must be Never");
  const ann = job.metadata?.annotations ?? {};
  const hook = ann["helm.sh/hook"];
  if (hook !== undefined) {
    if (hook !== "pre-install,pre-upgrade") problem(where, `helm.sh/hook is "${hook}", expected pre-install,pre-upgrade`);
    if (!(ann["helm.sh/hook-delete-policy"] ?? "").includes("before-hook-creation")) {
      problem(where, "hook-delete-policy must include before-hook-creation");
    }
    if (spec.serviceAccountName) {
      const sa = objs.find((o) => o.kind === "ServiceAccount" && o.metadata.name === spec.serviceAccountName);
      if (sa && !sa.metadata?.annotations?.["helm.sh/hook"]) {
        problem(where, `a pre-install hook cannot use ServiceAccount ${sa.metadata.name}: the release creates it later`);
      }
    }
  }
  const byVolume = {};
  for (const v of spec.volumes ?? []) {
    const kind = v.configMap ? "ConfigMap" : v.secret ? "Secret" : null;
    if (!kind) continue;
    const name = v.configMap?.name ?? v.secret?.secretName;
    const target = objs.find((o) => o.kind === kind && o.metadata.name === name);
    byVolume[v.name] = target;
    if (!target) continue;  // an existing Secret the set does not render
    if (hook !== undefined) {
      if (!target.metadata?.annotations?.["helm.sh/hook"]) {
        problem(where, `mounts ${kind} ${name}, which a pre-install hook runs before (not a hook object)`);
      } else if (hookWeight(target) >= hookWeight(job)) {
        problem(where, `${kind} ${name} must have a lower hook weight than the Job`);
      }
    } else if (target.metadata?.annotations?.["helm.sh/hook-delete-policy"]?.includes("hook-succeeded")) {
      problem(where, `plain Job mounts hook object ${kind} ${name}, which is deleted after hooks`);
    }
  }
  const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.name, m]));
  if (mounts.config?.mountPath !== "/etc/pgq/config.yaml") problem(where, "config.yaml is not mounted at /etc/pgq/config.yaml");
  const cmText = byVolume.config?.data?.["config.yaml"];
  // Same configuration and credential files as a worker of the set (with groups: its group's).
  const same = workerDeployments.some((d) => {
    const ws = d.spec.template.spec;
    const wcm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === ws.volumes?.find((v) => v.name === "config")?.configMap?.name);
    const wsecret = ws.volumes?.find((v) => v.name === "db-credentials")?.secret;
    const jsecret = spec.volumes?.find((v) => v.name === "db-credentials")?.secret;
    const wmount = ws.containers[0].volumeMounts?.find((m) => m.name === "db-credentials")?.mountPath;
    return wcm?.data?.["config.yaml"] === cmText && JSON.stringify(wsecret?.items) === JSON.stringify(jsecret?.items) &&
      wmount === mounts["db-credentials"]?.mountPath;
  });
  if (!same) problem(where, "config.yaml and credential files differ from every worker Deployment's");
  checkFilesMounted(where, cmText, c);
}

// Every file the configuration names (credentials, TLS; database and database.listener) lies
// under one of the container's mounts: a Job or CronJob that reads the workers' config.yaml
// must mount what it points at, or `pgq` stops with a configuration error.
function checkFilesMounted(where, configText, container) {
  const cfg = configText ? parseYaml(configText) : null;
  if (!cfg) return;
  const keys = ["password_file", "dsn_file", "sslrootcert", "sslcert", "sslkey", "sslcrl"];
  const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath.replace(/\/$/, ""));
  for (const section of [cfg.database, cfg.database?.listener]) {
    for (const key of keys) {
      const file = section?.[key];
      if (typeof file !== "string") continue;
      if (!mounts.some((m) => file === m || file.startsWith(`${m}/`))) {
        problem(where, `config.yaml names ${file} (${key}), which no volume mounts`);
      }
    }
  }
}

function parseYaml(text) {
  if (!opts.yaml2json) return null;
  const out = execFileSync(opts.yaml2json, ["yaml2json"], { input: text, encoding: "utf8" });
  return JSON.parse(out)[0]?.object ?? {};
}

// Keys of the worker example, for the config check: section -> Set of keys; plus the keys an
// entrypoint, a handler, a retry block and a schedule may have.
function exampleKeys(example) {
  const keys = { sections: new Set(Object.keys(example)), entry: new Set(), handler: new Set(), retry: new Set(), schedule: new Set() };
  for (const [section, body] of Object.entries(example)) {
    if (section === "entrypoints" || section === "schedules") continue;
    keys[section] = new Set(Object.keys(body ?? {}));
  }
  // The example shows a password_file and mentions dsn_file in a comment: both are valid.
  keys.database?.add("dsn_file");
  // ... and so are the TLS files, prepared_statements and listener it mentions in comments.
  for (const k of ["sslrootcert", "sslcert", "sslkey", "sslcrl", "prepared_statements", "listener"]) {
    keys.database?.add(k);
  }
  keys.queue?.add("channel");
  for (const ep of Object.values(example.entrypoints ?? {})) {
    Object.keys(ep).forEach((k) => keys.entry.add(k));
    Object.keys(ep.handler ?? {}).forEach((k) => keys.handler.add(k));
    Object.keys(ep.retry ?? {}).forEach((k) => keys.retry.add(k));
  }
  for (const s of Object.values(example.schedules ?? {})) {
    Object.keys(s).forEach((k) => keys.schedule.add(k));
    Object.keys(s.handler ?? {}).forEach((k) => keys.handler.add(k));
  }
  return keys;
}

// Seconds in a worker duration ("500ms", "30s", "5m", "1h"), or null.
function durationSeconds(d) {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(String(d));
  if (!m) return null;
  const n = Number(m[1]);
  return { ms: Math.ceil(n / 1000), s: n, m: n * 60, h: n * 3600 }[m[2]];
}

function checkWorkerConfig(where, cfg, keys, deployment) {
  for (const section of Object.keys(cfg)) {
    if (!keys.sections.has(section)) {
      problem(where, `config.yaml: unknown section ${section}`);
      continue;
    }
    if (section === "entrypoints" || section === "schedules") continue;
    for (const k of Object.keys(cfg[section] ?? {})) {
      if (!keys[section]?.has(k)) problem(where, `config.yaml: ${section}.${k} is not a worker setting`);
    }
  }
  const checkHandler = (path, h) => {
    for (const k of Object.keys(h ?? {})) {
      if (!keys.handler.has(k)) problem(where, `config.yaml: ${path}.handler.${k} is not a handler setting`);
    }
  };
  for (const [name, ep] of Object.entries(cfg.entrypoints ?? {})) {
    for (const k of Object.keys(ep ?? {})) {
      if (!keys.entry.has(k)) problem(where, `config.yaml: entrypoints.${name}.${k} is not an entrypoint setting`);
    }
    for (const k of Object.keys(ep?.retry ?? {})) {
      if (!keys.retry.has(k)) problem(where, `config.yaml: entrypoints.${name}.retry.${k} is not a retry setting`);
    }
    checkHandler(`entrypoints.${name}`, ep?.handler);
  }
  for (const [name, s] of Object.entries(cfg.schedules ?? {})) {
    for (const k of Object.keys(s ?? {})) {
      if (!keys.schedule.has(k)) problem(where, `config.yaml: schedules.${name}.${k} is not a schedule setting`);
    }
    checkHandler(`schedules.${name}`, s?.handler);
  }
  if (!deployment) return;
  const spec = deployment.spec.template.spec;
  const grace = durationSeconds(cfg.shutdown?.grace_period ?? "30s");
  const tgps = spec.terminationGracePeriodSeconds ?? 30;
  if (grace === null) {
    problem(where, `config.yaml: cannot read shutdown.grace_period ${cfg.shutdown?.grace_period}`);
  } else if (tgps < grace + 5) {
    problem(where, `terminationGracePeriodSeconds ${tgps} does not cover shutdown.grace_period ${cfg.shutdown?.grace_period} + 5s`);
  }
  const worker = spec.containers[0];
  const httpPort = (worker.ports ?? []).find((p) => p.name === "http")?.containerPort;
  if (cfg.http?.port !== httpPort) {
    problem(where, `config.yaml: http.port ${cfg.http?.port} differs from the container port ${httpPort}`);
  }
  const credential = cfg.database?.password_file ?? cfg.database?.dsn_file;
  if (!credential) {
    problem(where, "config.yaml: neither database.password_file nor database.dsn_file is set");
    return;
  }
  const dir = credential.slice(0, credential.lastIndexOf("/"));
  const file = credential.slice(credential.lastIndexOf("/") + 1);
  const mount = (worker.volumeMounts ?? []).find((m) => m.mountPath === dir);
  const volume = mount && (spec.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume?.secret) {
    problem(where, `config.yaml: ${credential} is not inside a mounted Secret`);
  } else if (volume.secret.items && !volume.secret.items.some((it) => it.path === file)) {
    problem(where, `config.yaml: the Secret volume does not provide ${file}`);
  }
}

async function validateSet(file) {
  const items = JSON.parse(readFileSync(file, "utf8"));
  const set = basename(file, ".json");
  const objs = items.map((it) => it.object);
  let n = 0;

  // 1. Schemas and unknown fields.
  for (const { source, object } of items) {
    const where = `${set}: ${source} ${describe(object)}`;
    const Model = await modelClass(object.apiVersion, object.kind);
    if (!Model) {
      problem(where, `no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    const { proxy, records } = tracked(structuredClone(object));
    try {
      Model.prototype.validate.call(proxy);
    } catch (e) {
      problem(where, `schema: ${e.message}`);
    }
    for (const f of unknownFields(records)) problem(where, `unknown field ${f}`);
    counts[object.kind] = (counts[object.kind] ?? 0) + 1;
    n++;
  }

  // 2. References between objects.
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const deployments = byKind("Deployment");
  const findDeployment = (name) => deployments.find((d) => d.metadata.name === name);
  for (const o of objs) {
    for (const { spec } of podSpecs(o)) {
      if (!spec) continue;
      checkPodReferences(`${set}: ${describe(o)}`, spec);
      checkSecurity(`${set}: ${describe(o)}`, spec);
      checkNoCredentialsInSpec(`${set}: ${describe(o)}`, spec);
    }
  }
  for (const d of deployments) {
    const where = `${set}: ${describe(d)}`;
    if (!matches(d.spec.selector?.matchLabels, d.spec.template.metadata?.labels)) {
      problem(where, "selector does not match the pod template labels");
    }
    for (const v of d.spec.template.spec.volumes ?? []) {
      // The database's CA bundle comes from outside the release, like the credential Secret.
      if (v.name === "db-ca") continue;
      if (v.configMap && !objs.some((o) => o.kind === "ConfigMap" && o.metadata.name === v.configMap.name)) {
        problem(where, `volume ${v.name} uses ConfigMap ${v.configMap.name}, which is not rendered`);
      }
    }
    const autoscaled = objs.filter((o) =>
      (o.kind === "HorizontalPodAutoscaler" || o.kind === "ScaledObject") &&
      o.spec?.scaleTargetRef?.name === d.metadata.name);
    if (autoscaled.length > 1) problem(where, `targeted by ${autoscaled.length} autoscalers`);
    if (autoscaled.length > 0 && d.spec.replicas !== undefined) {
      problem(where, "spec.replicas is set although an autoscaler manages the replicas");
    }
  }
  const pods = objs.flatMap((o) => (o.kind === "Pod" ? [] : podSpecs(o)));
  for (const s of byKind("Service")) {
    if (!pods.some((p) => matches(s.spec.selector, p.labels))) {
      problem(`${set}: ${describe(s)}`, "selector matches no pod template");
    }
    for (const port of s.spec.ports ?? []) {
      if (typeof port.targetPort !== "string") continue;
      const named = pods.some((p) => (p.spec?.containers ?? []).some((c) =>
        (c.ports ?? []).some((cp) => cp.name === port.targetPort)));
      if (!named) problem(`${set}: ${describe(s)}`, `targetPort ${port.targetPort} is not a container port name`);
    }
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    if (!pods.some((p) => matches(pdb.spec.selector?.matchLabels, p.labels))) {
      problem(`${set}: ${describe(pdb)}`, "selector matches no pod template");
    }
  }
  for (const np of byKind("NetworkPolicy")) {
    if (!pods.some((p) => matches(np.spec.podSelector?.matchLabels, p.labels))) {
      problem(`${set}: ${describe(np)}`, "podSelector matches no pod template");
    }
  }
  for (const sm of byKind("ServiceMonitor")) {
    const svc = byKind("Service").find((s) => matches(sm.spec.selector?.matchLabels, s.metadata.labels));
    if (!svc) {
      problem(`${set}: ${describe(sm)}`, "selector matches no Service");
      continue;
    }
    for (const ep of sm.spec.endpoints ?? []) {
      if (!(svc.spec.ports ?? []).some((p) => p.name === ep.port)) {
        problem(`${set}: ${describe(sm)}`, `endpoint port ${ep.port} is not a port of ${describe(svc)}`);
      }
    }
  }
  for (const a of [...byKind("HorizontalPodAutoscaler"), ...byKind("ScaledObject")]) {
    if (!findDeployment(a.spec.scaleTargetRef?.name)) {
      problem(`${set}: ${describe(a)}`, `scaleTargetRef ${a.spec.scaleTargetRef?.name} is not rendered`);
    }
  }
  for (const so of byKind("ScaledObject")) {
    for (const t of so.spec.triggers ?? []) {
      const ref = t.authenticationRef?.name;
      if (ref && !objs.some((o) => o.kind === "TriggerAuthentication" && o.metadata.name === ref)) {
        problem(`${set}: ${describe(so)}`, `authenticationRef ${ref} is not rendered`);
      }
      if (t.type === "postgresql" && !/^\s*SELECT\s/i.test(t.metadata?.query ?? "")) {
        problem(`${set}: ${describe(so)}`, "postgresql trigger has no SELECT query");
      }
    }
  }

  // 4. The worker contract.
  const workerDeployments = deployments.filter((d) => d.spec.template.spec.containers?.[0]?.name === "worker");
  if (workerDeployments.length === 0) {
    problem(set, "expected a worker Deployment, found none");
  }
  // Worker groups: no Deployment's selector may match another one's pods.
  for (const a of workerDeployments) {
    for (const b of workerDeployments) {
      const sel = Object.entries(a.spec.selector?.matchLabels ?? {});
      const labels = b.spec.template.metadata?.labels ?? {};
      if (a !== b && sel.every(([k, v]) => labels[k] === v)) {
        problem(`${set}: ${describe(a)}`, `selector also matches the pods of ${describe(b)}`);
      }
    }
  }
  for (const job of byKind("Job").filter((j) => j.spec?.template?.spec?.containers?.[0]?.name === "migrate")) {
    checkMigrationJob(set, job, objs, workerDeployments);
  }
  // A CronJob that reads the workers' ConfigMap (pgq prune) mounts the files it names.
  for (const cron of byKind("CronJob")) {
    const spec = cron.spec?.jobTemplate?.spec?.template?.spec;
    const c = spec?.containers?.[0];
    const cmName = spec?.volumes?.find((v) => v.name === "config")?.configMap?.name;
    const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === cmName);
    if (c && cm) checkFilesMounted(`${set}: ${describe(cron)}`, cm.data?.["config.yaml"], c);
  }
  for (const d of workerDeployments) {
    const where = `${set}: ${describe(d)}`;
    const c = d.spec.template.spec.containers[0];
    const cmd = [...(c.command ?? []), ...(c.args ?? [])].join(" ");
    if (opts["expect-command"] && cmd !== opts["expect-command"]) {
      problem(where, `command is "${cmd}", the image runs "${opts["expect-command"]}"`);
    }
    const port = (c.ports ?? []).find((p) => p.name === "http");
    if (opts["expect-port"] && port?.containerPort !== Number(opts["expect-port"])) {
      problem(where, `port http is ${port?.containerPort}, the worker listens on ${opts["expect-port"]}`);
    }
    const probes = { startupProbe: opts["expect-liveness"], livenessProbe: opts["expect-liveness"], readinessProbe: opts["expect-readiness"] };
    for (const [name, path] of Object.entries(probes)) {
      if (!path) continue;
      const get = c[name]?.httpGet;
      if (!get) {
        problem(where, `${name} has no httpGet`);
      } else if (get.path !== path || (get.port !== "http" && get.port !== port?.containerPort)) {
        problem(where, `${name} is ${get.path} on ${get.port}, the worker serves ${path} on http`);
      }
    }
    if (opts["config-keys"]) {
      const keys = exampleKeys(JSON.parse(readFileSync(opts["config-keys"], "utf8")));
      const vol = (d.spec.template.spec.volumes ?? []).find((v) => v.name === "config");
      const cm = vol && objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === vol.configMap?.name);
      const text = cm?.data?.["config.yaml"];
      if (!text) {
        problem(where, "no config.yaml in the ConfigMap mounted as volume config");
      } else {
        const cfg = parseYaml(text);
        checkWorkerConfig(where, cfg, keys, d);
        const name = workerDeployments.length > 1 ? `${set}-${d.metadata.name}` : set;
        if (opts["dump-configs"]) writeFileSync(`${opts["dump-configs"]}/${name}.json`, JSON.stringify(cfg));
      }
    }
  }
  total += n;
  console.log(`  ${set}: ${n} objects (${[...new Set(objs.map((o) => o.kind))].join(", ")})`);
}

for (const f of files) {
  await validateSet(f);
}
if (opts.summary) {
  appendFileSync(opts.summary, Object.entries(counts).map(([k, v]) => `${k} ${v}\n`).join(""));
}
if (problems.length > 0) {
  console.log(`FAILED: ${problems.length} problem(s):`);
  for (const p of problems) console.log(`  - ${p}`);
  process.exit(1);
}
console.log(`  all ${total} objects valid`);
