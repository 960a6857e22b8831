// userstream console page: polls the console's JSON API and draws it.
// No build step, no framework; uPlot (from npm, served by the console) draws
// the charts. Every value is written with textContent: nothing from the API
// is ever parsed as HTML.
"use strict";

const POLL_MS = 1500;
const CHART_S = 600;
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

function num(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return fmt.format(v) + (unit ? " " + unit : "");
}

function bytes(v) {
  if (v === null || v === undefined) return "—";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return fmt.format(v) + " " + u[i];
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "—" : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function fillTable(id, rows) {
  const body = $(id).tBodies[0];
  body.replaceChildren(...rows);
}

function fillDl(id, pairs) {
  const dl = $(id);
  const items = [];
  for (const [k, v] of pairs) { items.push(el("dt", k)); items.push(el("dd", v)); }
  dl.replaceChildren(...items);
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (r.status === 401) { window.location.assign("/login"); throw new Error("login required"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
  return body;
}

// ---- banners ----
function banners(doc, fetchError) {
  const out = [];
  if (fetchError) out.push(["error", "The console does not answer: " + fetchError]);
  for (const a of doc && doc.alerts || []) out.push(["error", a.message]);
  for (const [src, msg] of Object.entries(doc && doc.errors || {})) out.push(["warn", "could not ask " + src + ": " + msg]);
  $("banners").replaceChildren(...out.map(([cls, t]) => el("p", t, "banner " + cls)));
}

// ---- pipeline ----
function drawFlow(stages) {
  const items = stages.map((s) => {
    const li = el("li", null, "stage " + (s.state === "up" ? "up" : s.state ? "down" : "unknown"));
    li.tabIndex = 0;
    li.dataset.stage = s.id;
    li.appendChild(el("h3", s.label));
    li.appendChild(el("p", num(s.count), "count"));
    const r = el("p", null, "rates");
    r.textContent = num(s.rate_10s, "/s") + " (10 s) · " + num(s.rate_5m, "/s") + " (5 min)";
    li.appendChild(r);
    if (s.lag) li.appendChild(el("p", "lag: " + (s.lag.unit === "bytes" ? bytes(s.lag.value) : num(s.lag.value, s.lag.unit)) + " " + s.lag.what, "lag"));
    li.appendChild(el("p", (s.service || "") + " " + (s.state || "unknown"), "svc"));
    li.setAttribute("aria-label", s.label + ": " + num(s.count));
    return li;
  });
  $("flow").replaceChildren(...items);
}

function drawPipeline(d) {
  drawFlow(d.stages || []);
  const sl = d.slot || {};
  fillDl("slot", [["name", sl.name], ["active", sl.found ? String(sl.active) : "no such slot"],
    ["confirmed LSN", sl.confirmed_flush_lsn], ["current WAL", sl.current_wal_lsn],
    ["retained WAL", bytes(sl.retained_bytes)], ["not confirmed", bytes(sl.lag_bytes)],
    ["safe_wal_size", sl.safe_wal_bytes === null ? "unlimited" : bytes(sl.safe_wal_bytes)],
    ["wal_status", sl.wal_status]]);
  const r = d.relay || {};
  fillDl("relay", [["rows/s", num(r.rows_per_s)], ["in-flight transactions", num(r.inflight_txns)],
    ["in-flight records", num(r.inflight_msgs)], ["commit → ack p50", num(r.ack_p50_ms, "ms")],
    ["commit → ack p99", num(r.ack_p99_ms, "ms")], ["delivery errors", num(r.delivery_errors)]]);
  const sp = d.spark || {};
  fillDl("spark", [["last batch", num(sp.batch_id)], ["batch duration", num(sp.batch_ms, "ms")],
    ["rows in batch", num(sp.batch_rows)], ["input rate", num(sp.input_rate, "rows/s")],
    ["processing rate", num(sp.processing_rate, "rows/s")], ["last batch ago", num(sp.last_batch_age_s, "s")],
    ["end offsets", JSON.stringify(sp.end_offsets || {})]]);
  const l = d.latency || {};
  fillDl("latency", [["p50 (median of batch p50s)", num(l.p50_ms, "ms")], ["p99 (worst batch)", num(l.p99_ms, "ms")]]);
  fillTable("rejects", ((d.rejects || {}).reasons || []).map((x) => row([x.reason, num(x.count)])));
  fillTable("health", (d.health || []).map((h) => {
    const st = el("span", h.state, "state " + h.state);
    return row([h.name, st, h.address, h.detail]);
  }));
  drawRetention(d.retention || {});
}

// How long each store keeps what (userstream.conf) and what the lifecycle did.
function drawRetention(ret) {
  fillTable("retention", (ret.config || []).map((k) => row([k.store, k.key, k.value, k.meaning])));
  const st = ret.state || {};
  fillDl("lifecycle", [["last staging purge", st.last_purge_at],
    ["purged in 24 h", num(st.purged_users_24h) + " users, " + num(st.purged_rejects_24h) + " rejects"],
    ["erasures", num(st.erasures)], ["erasures not yet clean everywhere", num(st.erasures_pending)],
    ["last erasure", st.last_erasure_at], ["Kafka older values compacted by", st.kafka_compacted_by],
    ["dead letters expired by", st.dlq_expired_by]]);
}

// ---- charts ----
const charts = {};
function chart(id, labels) {
  if (charts[id] || typeof uPlot === "undefined") return charts[id];
  const host = $(id);
  const colors = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2"];
  const opts = {
    width: Math.max(300, host.clientWidth - 8), height: 200,
    scales: { x: { time: true } },
    series: [{}].concat(labels.map((l, i) => ({ label: l, stroke: colors[i % colors.length], width: 1.5, spanGaps: false }))),
    axes: [{}, { size: 70 }],
  };
  charts[id] = new uPlot(opts, [[]].concat(labels.map(() => [])), host);
  return charts[id];
}

function perSecond(v) {
  return v.map((x, i) => (i === 0 || x === null || v[i - 1] === null || x < v[i - 1]) ? null : x - v[i - 1]);
}

async function drawCharts() {
  const rates = ["source.users", "loader.fetched", "postgres.staged", "relay.rows_acked", "kafka.end", "spark.processed"];
  const h = await api("/api/history?metric=" + rates.join(",") + "&seconds=" + CHART_S);
  const xs = h.series[rates[0]].map((_, i) => h.start + i);
  const c1 = chart("chart-rates", ["source generated", "fetched", "staged", "relay acked", "Kafka end", "Spark processed"]);
  if (c1) c1.setData([xs].concat(rates.map((m) => perSecond(h.series[m]))));
  const lags = ["spark.in_flight", "slot.lag_bytes"];
  const g = await api("/api/history?metric=" + lags.join(",") + "&seconds=" + CHART_S);
  const c2 = chart("chart-lag", ["Kafka → Spark (records)", "WAL not confirmed (bytes)"]);
  if (c2) c2.setData([xs].concat(lags.map((m) => g.series[m])));
  const lat = ["latency.p50_ms", "latency.p99_ms", "relay.ack_p99_ms"];
  const k = await api("/api/history?metric=" + lat.join(",") + "&seconds=" + CHART_S);
  const c3 = chart("chart-latency", ["commit → Cassandra p50", "commit → Cassandra p99", "commit → Kafka ack p99"]);
  if (c3) c3.setData([xs].concat(lat.map((m) => k.series[m])));
}

// ---- Kafka ----
let kafkaTopics = [];
let openTopic = null;

function cfg(t, key) { return t.config && t.config[key] !== undefined ? t.config[key] : "—"; }

async function drawKafka() {
  const c = await api("/api/kafka/cluster");
  fillTable("brokers", (c.brokers || []).map((b) => row([b.id, b.host, b.port, b.id === c.controller_id ? "controller" : "broker"])));
  kafkaTopics = (c.topics || []).filter((t) => !t.internal);
  fillTable("topics", kafkaTopics.map((t) => {
    const b = el("button", t.name, "link");
    b.type = "button";
    b.addEventListener("click", () => showTopic(t.name));
    return row([b, (t.partitions || []).length, num(t.messages), cfg(t, "retention.ms"), cfg(t, "cleanup.policy")]);
  }));
  if (openTopic) showTopic(openTopic, true);
  try {
    const g = await api("/api/kafka/groups");
    fillTable("groups", (g.groups || []).map((x) => row([x.group, x.state, (x.members || []).length, num(x.lag),
      (x.offsets || []).map((o) => o.topic + "[" + o.partition + "] " + num(o.lag)).join(", ")])));
  } catch (e) { fillTable("groups", [row(["could not list groups: " + e.message, "", "", "", ""])]); }
  try {
    const s = await api("/api/kafka/spark-lag");
    fillDl("spark-lag", [["checkpointed batch", s.batch === null ? "none yet" : s.batch], ["lag", num(s.lag, "records")]]
      .concat((s.topics || []).map((t) => [t.topic, (t.partitions || []).map((p) => p.partition + ": " + num(p.lag)).join(", ")])));
  } catch (e) { fillDl("spark-lag", [["error", e.message]]); }
}

function showTopic(name, quiet) {
  const t = kafkaTopics.find((x) => x.name === name);
  if (!t) return;
  openTopic = name;
  $("topic-detail").hidden = false;
  $("topic-title").textContent = "Topic " + name;
  fillTable("partitions", (t.partitions || []).map((p) => row([p.partition, p.leader, (p.replicas || []).join(","), (p.isr || []).join(","), num(p.low), num(p.high)])));
  if (!quiet) $("b-partition").focus();
}

function valueCell(v) {
  if (v === null) return el("span", "(tombstone)");
  if (v.avro !== undefined) {
    const d = el("details");
    d.appendChild(el("summary", "schema " + v.schema_id + ": " + JSON.stringify(v.avro).slice(0, 80) + "…"));
    d.appendChild(el("pre", JSON.stringify(v.avro, null, 2)));
    return d;
  }
  const d = el("details");
  d.appendChild(el("summary", "not decoded: " + (v.error || "")));
  d.appendChild(el("pre", v.hex || ""));
  return d;
}

function textOf(x) { return x === null || x === undefined ? "null" : x.text !== undefined ? x.text : "0x" + x.hex; }

async function browse(ev) {
  ev.preventDefault();
  $("browse-error").textContent = "";
  const q = new URLSearchParams({ topic: openTopic, partition: $("b-partition").value, limit: $("b-limit").value || "20" });
  if ($("b-time").value) q.set("timestamp", String(new Date($("b-time").value).getTime()));
  else q.set("offset", $("b-offset").value || "-1");
  try {
    const m = await api("/api/kafka/messages?" + q);
    fillTable("messages", (m.messages || []).map((x) => row([x.offset, new Date(x.timestamp).toISOString(), textOf(x.key),
      Object.entries(x.headers || {}).map(([k, v]) => k + "=" + textOf(v)).join(" "), valueCell(x.value)])));
  } catch (e) { $("browse-error").textContent = e.message; }
}

// ---- Registry ----
let openSubject = null;

async function drawRegistry() {
  const r = await api("/api/registry/subjects");
  $("compat-global").textContent = "Global compatibility: " + (r.compatibility || "—");
  fillTable("subjects", (r.subjects || []).map((s) => {
    const b = el("button", s.subject, "link");
    b.type = "button";
    b.addEventListener("click", () => showSubject(s));
    return row([b, (s.versions || []).join(", "), s.latest, s.compatibility || "(global)"]);
  }));
}

function showSubject(s) {
  openSubject = s.subject;
  $("subject-detail").hidden = false;
  $("subject-title").textContent = "Subject " + s.subject;
  for (const id of ["v-one", "v-two"]) {
    const opts = (s.versions || []).map((v) => { const o = el("option", v); o.value = v; return o; });
    if (id === "v-two") { const none = el("option", "(none)"); none.value = ""; opts.unshift(none); }
    $(id).replaceChildren(...opts);
  }
  $("v-one").value = String(s.latest);
  showSchema();
  $("v-one").focus();
}

async function showSchema(ev) {
  if (ev) ev.preventDefault();
  const one = $("v-one").value, two = $("v-two").value;
  try {
    const v = await api("/api/registry/version?" + new URLSearchParams({ subject: openSubject, version: one }));
    $("schema-text").textContent = "version " + v.version + ", id " + v.id + "\n" +
      (v.schema_json ? JSON.stringify(v.schema_json, null, 2) : v.schema);
    if (two) {
      const d = await api("/api/registry/diff?" + new URLSearchParams({ subject: openSubject, from: two, to: one }));
      $("schema-diff").textContent = "diff " + two + " → " + one + "\n" + JSON.stringify(d, null, 2);
    } else $("schema-diff").textContent = "";
  } catch (e) { $("schema-text").textContent = "error: " + e.message; }
}

// ---- Airflow ----
async function drawAirflow(d) {
  const q = d && d.quality;
  fillDl("quality", q ? [["checked run", q.run_id], ["checked at", q.checked_at], ["ok", String(q.ok)],
    ["fetched", num(q.fetched)], ["staged", num(q.staged)], ["staged in table", num(q.staged_in_table)],
    ["duplicates", num(q.duplicates)], ["rejected", num(q.rejected)], ["pages rejected", num(q.pages_rejected)],
    ["freshness", num(q.freshness_seconds, "s")], ["problems", (q.problems || []).join("; ") || "none"]]
    : [["report", "none yet"]]);
  const a = await api("/api/airflow?runs=5");
  const rows = [];
  for (const dag of a.dags || []) {
    const runs = dag.runs && dag.runs.length ? dag.runs : [null];
    for (const r of runs) {
      const st = el("span", r ? r.state : (dag.error || "no run"), "state " + (r && r.state === "success" ? "up" : r && r.state === "failed" ? "down" : ""));
      rows.push(row([dag.dag_id, String(dag.is_paused), r ? r.run_id : "—", r ? r.run_type : "—", st,
        r ? r.start_date : "—", r && r.duration !== null ? num(r.duration, "s") : "—"]));
    }
  }
  fillTable("dag-runs", rows);
}

// ---- views and polling ----
let view = "pipeline";
let ticks = 0;

function setView(name) {
  view = name;
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-pressed", String(b.dataset.view === name));
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + name;
  refresh(true);
}

let busy = false;

// One refresh at a time: a slow answer is not stacked with new requests.
async function refresh(viewChanged) {
  if (busy && !viewChanged) return;
  busy = true;
  try {
    const d = await api("/api/pipeline");
    banners(d, null);
    $("updated").textContent = d.time ? "updated " + new Date(d.time * 1000).toLocaleTimeString() : "starting…";
    if (view === "pipeline") {
      drawPipeline(d);
      if (viewChanged || ticks % 4 === 0) await drawCharts();
    } else if (view === "kafka" && (viewChanged || ticks % 10 === 0)) await drawKafka();
    else if (view === "registry" && viewChanged) await drawRegistry();
    else if (view === "airflow" && (viewChanged || ticks % 10 === 0)) await drawAirflow(d);
  } catch (e) {
    banners(null, e.message);
  } finally {
    busy = false;
  }
  ticks++;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => setView(b.dataset.view));
  $("logout").addEventListener("click", async () => {
    await fetch("/logout", { method: "POST", credentials: "same-origin" });
    window.location.assign("/login");
  });
  $("browse").addEventListener("submit", browse);
  $("diff").addEventListener("submit", showSchema);
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
    if (ev.key === "1") setView("pipeline");
    else if (ev.key === "2") setView("kafka");
    else if (ev.key === "3") setView("registry");
    else if (ev.key === "4") setView("airflow");
    else if (ev.key === "r") refresh(true);
  });
  refresh(true);
  setInterval(() => refresh(false), POLL_MS);
});
