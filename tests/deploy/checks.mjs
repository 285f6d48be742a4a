// Over 400 lines on purpose: five small independent checks (values, dashboard, alert-tests, worker-config, job-layout) behind one CLI, one section each.
// Consistency checks on the chart's own files (tests/scripts/deploy_*.sh run these).
// YAML inputs arrive as JSON from `pgq-render yaml2json` (an array of {source, object}).
//
//   node checks.mjs values VALUES.json SCHEMA.json VALUES.yaml
//       every key of values.yaml has a `## @param` line and every @param names a key;
//       values.yaml and values.schema.json have the same keys; every schema object that lists
//       properties forbids others (additionalProperties: false); every default in values.yaml
//       has a type (and enum value) its schema accepts; where a key has both a `## @param`
//       text and a schema "description", the two are the same text. values.yaml is the
//       source of the prose: copy a changed @param text into the schema's description.
//   node checks.mjs dashboard DASHBOARD.json METRICS.txt RULES.json OUT_RULES.json
//       the Grafana dashboard is well formed (unique ids, panels inside the 24-column grid and
//       not overlapping, a query on every panel), uses only metric names of the worker
//       contract (METRICS.txt), and together with the alerts (RULES.json, a PrometheusRule
//       spec) uses every contract metric; writes every query, with Grafana's variables
//       replaced, as a rule file so that promtool can check the PromQL.
//   node checks.mjs worker-config CONFIG.json OUT.json MOUNT_ROOT PORT
//       rewrites a rendered worker config so that `pgq run` can load it on this machine: the
//       files under /etc/pgq move to MOUNT_ROOT, the database to 127.0.0.1 port 1 (refused at
//       once, nothing leaves the machine), the HTTP listener to 127.0.0.1:PORT. Keys stay as
//       rendered.
//   node checks.mjs job-layout OBJECTS.json ROOT
//       lays out the files the migration Job (container "migrate") mounts, as the kubelet
//       would, under ROOT: each mount path M becomes ROOT/M, filled from the rendered
//       ConfigMap / Secret (items and subPath honoured); "/etc/pgq/" inside mounted text and
//       in the arguments becomes ROOT/etc/pgq/. Prints the Job's argv, one argument a line.
//   node checks.mjs alert-tests RULES.json TESTS.json
//       every alert has a promtool test case where it fires and one where it stays quiet.
//
// Exit status 0 when the check holds, 1 otherwise.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const [cmd, ...argv] = process.argv.slice(2);
const problems = [];
const readJSON = (f) => JSON.parse(readFileSync(f, "utf8"));
const firstObject = (f) => readJSON(f)[0]?.object ?? {};

function done(okMessage) {
  if (problems.length > 0) {
    for (const p of problems) console.log(`  - ${p}`);
    process.exit(1);
  }
  console.log(`  ${okMessage}`);
}

// ---- values ------------------------------------------------------------------------------

function valuePaths(obj, prefix = "") {
  // Leaves, plus maps that are empty by default (users fill them) and lists.
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0) {
      out.push(...valuePaths(v, path));
    } else {
      out.push(path);
    }
  }
  return out;
}

function resolve(schema, root) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 20; i++) {
    s = s.$ref.replace(/^#\//, "").split("/").reduce((o, k) => o?.[k], root);
  }
  return s;
}

// Schema node for a dotted values path (following properties, $ref, allOf, oneOf).
function schemaAt(root, path) {
  let node = root;
  for (const key of path.split(".")) {
    node = resolve(node, root);
    const candidates = [node, ...(node?.allOf ?? []), ...(node?.oneOf ?? [])].map((n) => resolve(n, root));
    const found = candidates.map((n) => n?.properties?.[key]).find(Boolean);
    if (!found) return null;
    node = found;
  }
  return resolve(node, root);
}

function checkAdditional(node, root, path, seen = new Set()) {
  node = resolve(node, root);
  if (!node || typeof node !== "object" || seen.has(node)) return;
  seen.add(node);
  // Closed either itself or through every oneOf branch (a tagged union like handler).
  const closedBranches = (node.oneOf ?? []).length > 0 &&
    node.oneOf.every((b) => resolve(b, root)?.additionalProperties === false);
  if (node.properties && node.additionalProperties !== false && !closedBranches) {
    problems.push(`values.schema.json: ${path || "(root)"} lists properties but does not set additionalProperties: false`);
  }
  for (const [k, v] of Object.entries(node.properties ?? {})) checkAdditional(v, root, path ? `${path}.${k}` : k, seen);
  for (const v of [...(node.allOf ?? []), ...(node.oneOf ?? []), ...(node.anyOf ?? [])]) checkAdditional(v, root, path, seen);
  if (node.items) checkAdditional(node.items, root, `${path}[]`, seen);
  if (node.additionalProperties && typeof node.additionalProperties === "object") {
    checkAdditional(node.additionalProperties, root, `${path}.*`, seen);
  }
}

function schemaPaths(node, root, prefix = "", out = []) {
  node = resolve(node, root);
  for (const [k, v] of Object.entries(node?.properties ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    const r = resolve(v, root);
    if (r?.properties) {
      schemaPaths(r, root, path, out);
    } else {
      out.push(path);
    }
  }
  return out;
}

// Raw schema property for a dotted values path (its own description, before any $ref).
function schemaPropertyAt(root, path) {
  const keys = path.split(".");
  const parent = keys.length > 1 ? schemaAt(root, keys.slice(0, -1).join(".")) : root;
  if (!parent) return null;
  const candidates = [parent, ...(parent.allOf ?? []), ...(parent.oneOf ?? [])].map((n) => resolve(n, root));
  return candidates.map((n) => n?.properties?.[keys[keys.length - 1]]).find(Boolean) ?? null;
}

const jsonTypes = (v) =>
  v === null ? ["null"] : Array.isArray(v) ? ["array"] : typeof v === "number"
    ? (Number.isInteger(v) ? ["integer", "number"] : ["number"]) : [typeof v];

// Whether a schema node accepts a value by type, enum and const (formats, patterns and
// bounds are left to the renderer's full JSON Schema validation of every scenario).
function accepts(node, v, root) {
  node = resolve(node, root);
  if (!node || typeof node !== "object") return true;
  const same = (a) => JSON.stringify(a) === JSON.stringify(v);
  if ("const" in node && !same(node.const)) return false;
  if (node.enum && !node.enum.some(same)) return false;
  if (node.type && ![node.type].flat().some((t) => jsonTypes(v).includes(t))) return false;
  if (node.oneOf && !node.oneOf.some((b) => accepts(b, v, root))) return false;
  if (node.anyOf && !node.anyOf.some((b) => accepts(b, v, root))) return false;
  if (node.allOf && !node.allOf.every((b) => accepts(b, v, root))) return false;
  return true;
}

// "## @param KEY text" plus the prose lines after it ("## more text"), whitespace folded;
// indented lines (examples), "## ref:", "## e.g." and "## @..." end the text.
function paramTexts(text) {
  const lines = text.split("\n");
  const out = new Map();
  lines.forEach((line, i) => {
    const m = line.match(/^\s*## @param (\S+)\s*(.*)$/);
    if (!m) return;
    let doc = m[2];
    for (let j = i + 1; j < lines.length; j++) {
      const c = lines[j].match(/^\s*## (.*)$/);
      if (!c || /^(\s|ref:|e\.g\.|@)/.test(c[1])) break;
      doc += ` ${c[1]}`;
    }
    out.set(m[1], doc.replace(/\s+/g, " ").trim());
  });
  return out;
}

function checkValues([valuesJson, schemaFile, valuesYaml]) {
  const values = firstObject(valuesJson);
  const schema = readJSON(schemaFile);
  const text = readFileSync(valuesYaml, "utf8");
  const params = new Set([...text.matchAll(/^\s*## @param (\S+)/gm)].map((m) => m[1]));
  const paths = valuePaths(values);
  for (const p of paths) {
    // A documented parent (e.g. resources.requests) covers its children.
    const parts = p.split(".");
    const documented = parts.some((_, i) => params.has(parts.slice(0, i + 1).join(".")));
    if (!documented) problems.push(`values.yaml: ${p} has no "## @param ${p}" line`);
  }
  const allKeys = new Set();
  const collect = (obj, prefix) => {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${k}` : k;
      allKeys.add(path);
      if (v && typeof v === "object" && !Array.isArray(v)) collect(v, path);
    }
  };
  collect(values, "");
  for (const p of params) {
    if (!allKeys.has(p)) problems.push(`values.yaml: "## @param ${p}" names no key`);
  }
  for (const p of paths) {
    let node = schemaAt(schema, p);
    if (!node) {
      // Inside a free-form object (Kubernetes resources, label maps): the parent is typed.
      const parts = p.split(".");
      for (let i = parts.length - 1; i > 0 && !node; i--) {
        const parent = schemaAt(schema, parts.slice(0, i).join("."));
        if (parent && parent.type === "object" && !parent.properties) node = parent;
      }
    }
    if (!node) {
      problems.push(`values.schema.json: no schema for ${p}`);
    } else if (!node.type && !node.oneOf && !node.anyOf && !node.enum && !node.const && !node.allOf) {
      problems.push(`values.schema.json: ${p} has no type`);
    }
  }
  for (const p of schemaPaths(schema, schema)) {
    if (!allKeys.has(p)) problems.push(`values.schema.json: ${p} is not in values.yaml`);
  }
  checkAdditional(schema, schema, "");
  let typed = 0;
  for (const p of paths) {
    const node = schemaAt(schema, p);
    if (!node) continue; // inside a free-form object: nothing more precise than its parent
    const v = p.split(".").reduce((o, k) => o?.[k], values);
    typed++;
    if (!accepts(node, v, schema)) {
      problems.push(`values.yaml: the default of ${p} (${JSON.stringify(v)}) is not accepted by its schema (type ${JSON.stringify(node.type ?? "oneOf/anyOf")}${node.enum ? `, one of ${JSON.stringify(node.enum)}` : ""})`);
    }
  }
  let described = 0;
  for (const [p, doc] of paramTexts(text)) {
    const prop = allKeys.has(p) ? schemaPropertyAt(schema, p) : null;
    if (!prop?.description) continue;
    described++;
    if (prop.description !== doc) {
      problems.push(`values.schema.json: the description of ${p} differs from its "## @param" text in values.yaml (the source; copy it over):\n      schema:      ${prop.description}\n      values.yaml: ${doc}`);
    }
  }
  done(`${paths.length} values documented and typed, ${params.size} @param lines, ${typed} defaults match their schema types, ${described} schema descriptions equal their @param text`);
}

// ---- dashboard ---------------------------------------------------------------------------

// Metric names referenced by a PromQL expression: identifiers followed by { or a space/paren,
// that start with pgq_ (the worker's) or kube_ (kube-state-metrics).
function metricNames(expr) {
  return [...expr.matchAll(/\b((?:pgq|kube)_[a-zA-Z0-9_]+)\b/g)].map((m) => m[1]);
}

function baseName(name, histograms) {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix) && histograms.has(name.slice(0, -suffix.length))) {
      return name.slice(0, -suffix.length);
    }
  }
  return name;
}

function checkDashboard([dashFile, metricsFile, rulesJson, outRules]) {
  const dash = readJSON(dashFile);
  const contract = new Map();
  for (const line of readFileSync(metricsFile, "utf8").split("\n")) {
    const t = line.replace(/#.*/, "").trim();
    if (!t) continue;
    const [name, type] = t.split(/\s+/);
    contract.set(name, type);
  }
  const histograms = new Set([...contract].filter(([, t]) => t === "histogram").map(([n]) => n));
  const used = new Set();
  // kube-state-metrics' kube_* and the KEDA operator's keda_* are not the worker's.
  const known = (n) => n.startsWith("kube_") || n.startsWith("keda_") || contract.has(baseName(n, histograms));

  for (const key of ["uid", "title", "panels", "templating", "schemaVersion"]) {
    if (dash[key] === undefined) problems.push(`dashboard: missing ${key}`);
  }
  const ids = new Set();
  const cells = new Map();
  const exprs = [];
  for (const p of dash.panels ?? []) {
    const where = `dashboard panel ${p.id} "${p.title}"`;
    if (ids.has(p.id)) problems.push(`${where}: duplicate id`);
    ids.add(p.id);
    const g = p.gridPos ?? {};
    if (!(g.w > 0 && g.h > 0 && g.x >= 0 && g.y >= 0 && g.x + g.w <= 24)) {
      problems.push(`${where}: gridPos outside the 24-column grid`);
    }
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        const k = `${x},${y}`;
        if (cells.has(k)) problems.push(`${where}: overlaps panel ${cells.get(k)}`);
        cells.set(k, p.id);
      }
    }
    if (p.type === "row") continue;
    if (!p.targets?.length) problems.push(`${where}: no query`);
    for (const t of p.targets ?? []) {
      if (!t.expr) {
        problems.push(`${where}: target ${t.refId} has no expr`);
        continue;
      }
      exprs.push({ where: `${where} ${t.refId}`, expr: t.expr });
    }
  }
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    if (v.type === "query" && q) exprs.push({ where: `dashboard variable ${v.name}`, expr: q, variable: true });
  }
  for (const { where, expr } of exprs) {
    for (const n of metricNames(expr)) {
      if (!known(n)) problems.push(`${where}: ${n} is not a worker metric (tests/deploy/metrics.txt)`);
      used.add(baseName(n, histograms));
    }
  }
  const rules = readJSON(rulesJson);
  for (const g of rules.groups ?? []) {
    for (const r of g.rules ?? []) {
      for (const n of metricNames(r.expr ?? "")) {
        if (!known(n)) problems.push(`alert ${r.alert}: ${n} is not a worker metric`);
        used.add(baseName(n, histograms));
      }
    }
  }
  for (const name of contract.keys()) {
    if (!used.has(name)) problems.push(`metric ${name} is used by neither the dashboard nor the alerts`);
  }
  // Grafana variables -> plain PromQL, so promtool can parse every panel query.
  const plain = (e) => e
    .replace(/\$__rate_interval|\$__interval|\$__range/g, "5m")
    .replace(/\$\{?[a-zA-Z_]+\}?/g, ".*");
  const rulesOut = {
    groups: [{
      name: "dashboard-queries",
      rules: exprs.filter((e) => !e.variable).map((e, i) => ({ record: `dashboard:query_${i}`, expr: plain(e.expr) })),
    }],
  };
  writeFileSync(outRules, JSON.stringify(rulesOut, null, 1));
  const covered = [...contract.keys()].filter((n) => used.has(n)).length;
  done(`${(dash.panels ?? []).filter((p) => p.type !== "row").length} panels, ${exprs.length} queries, ${covered} of ${contract.size} contract metrics used by dashboard + alerts`);
}

// ---- alert tests -------------------------------------------------------------------------

function checkAlertTests([rulesJson, testsJson]) {
  const rules = readJSON(rulesJson);
  const tests = firstObject(testsJson);
  const alerts = (rules.groups ?? []).flatMap((g) => (g.rules ?? []).map((r) => r.alert)).filter(Boolean);
  const fires = new Map(alerts.map((a) => [a, 0]));
  const quiet = new Map(alerts.map((a) => [a, 0]));
  let cases = 0;
  for (const t of tests.tests ?? []) {
    for (const c of t.alert_rule_test ?? []) {
      cases++;
      if (!fires.has(c.alertname)) {
        problems.push(`test "${t.name}" checks ${c.alertname}, which is not an alert`);
        continue;
      }
      if ((c.exp_alerts ?? []).length > 0) {
        fires.set(c.alertname, fires.get(c.alertname) + 1);
      } else {
        quiet.set(c.alertname, quiet.get(c.alertname) + 1);
      }
    }
  }
  for (const a of alerts) {
    if (fires.get(a) === 0) problems.push(`${a} has no test case where it fires`);
    if (quiet.get(a) === 0) problems.push(`${a} has no test case where it stays quiet`);
  }
  done(`every one of ${alerts.length} alerts is tested firing and quiet (${cases} alert evaluations in ${(tests.tests ?? []).length} test groups)`);
}

function rewriteWorkerConfig([inFile, outFile, mountRoot, port]) {
  const cfg = readJSON(inFile);
  const db = cfg.database ?? {};
  // Every file the chart mounts under /etc/pgq (credentials, TLS) is laid out the same way
  // under MOUNT_ROOT.
  const remount = (section) => {
    for (const [k, v] of Object.entries(section)) {
      if (typeof v === "string" && v.startsWith("/etc/pgq/")) {
        section[k] = `${mountRoot}/${v.slice("/etc/pgq/".length)}`;
      }
    }
  };
  remount(db);
  if (db.listener) {
    remount(db.listener);
    if (db.listener.host) db.listener.host = "127.0.0.1";
    if (db.listener.port) db.listener.port = 1;
  }
  if (!db.dsn_file) {
    db.host = "127.0.0.1";
    db.port = 1;
  }
  cfg.http = { ...(cfg.http ?? {}), address: "127.0.0.1", port: Number(port) };
  writeFileSync(outFile, JSON.stringify(cfg, null, 1));
}

function layOutJob([objectsFile, root]) {
  const objs = readJSON(objectsFile).map((e) => e.object);
  const job = objs.find((o) => o.kind === "Job" && o.spec?.template?.spec?.containers?.[0]?.name === "migrate");
  if (!job) {
    console.error("no migration Job (container migrate) in " + objectsFile);
    process.exit(1);
  }
  const spec = job.spec.template.spec;
  const c = spec.containers[0];
  const remap = (text) => text.replaceAll("/etc/pgq/", `${root}/etc/pgq/`);
  for (const m of c.volumeMounts ?? []) {
    const v = (spec.volumes ?? []).find((x) => x.name === m.name);
    let files = null;  // key -> text
    if (v?.configMap) {
      const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === v.configMap.name);
      if (!cm) throw new Error(`ConfigMap ${v.configMap.name} is not rendered`);
      files = { ...cm.data };
    } else if (v?.secret) {
      const sec = objs.find((o) => o.kind === "Secret" && o.metadata.name === v.secret.secretName);
      if (!sec) throw new Error(`Secret ${v.secret.secretName} is not rendered`);
      files = Object.fromEntries(Object.entries(sec.data ?? {}).map(([k, b]) => [k, Buffer.from(b, "base64").toString()]));
    } else {
      mkdirSync(`${root}${m.mountPath}`, { recursive: true });  // emptyDir
      continue;
    }
    const source = v.configMap ?? v.secret;
    const paths = source.items ? source.items.map((i) => [i.key, i.path]) : Object.keys(files).map((k) => [k, k]);
    for (const [key, path] of paths) {
      if (m.subPath && m.subPath !== path) continue;
      const target = m.subPath ? `${root}${m.mountPath}` : `${root}${m.mountPath}/${path}`;
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, remap(files[key]), { mode: 0o600 });
    }
  }
  for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) console.log(remap(arg));
}

switch (cmd) {
  case "job-layout": layOutJob(argv); break;
  case "worker-config": rewriteWorkerConfig(argv); break;
  case "values": checkValues(argv); break;
  case "dashboard": checkDashboard(argv); break;
  case "alert-tests": checkAlertTests(argv); break;
  default:
    console.error("usage: node checks.mjs values|dashboard|alert-tests ...");
    process.exit(2);
}
