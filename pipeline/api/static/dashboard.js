// The dashboard: one EventSource (/events/stream) feeds every chart with aggregates once a
// second; lists and analytics' windows are fetched on load and kept current by the
// stream's alert, dead-letter and window events. No build step: plain JavaScript and the
// vendored uPlot.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token");
  const HISTORY = 300; // points kept per chart: five minutes at one tick a second
  const FEED_ROWS = 50;
  const WINDOWS_SHOWN = 12; // analytics' latest closed windows drawn
  const COLORS = ["#3b6fd8", "#e08a1e", "#1f9d55", "#d64545", "#8e5bd8", "#13a3a3", "#b5527a"];
  const STATUS_COLORS = { PLACED: "#3b6fd8", CONFIRMED: "#13a3a3", SHIPPED: "#e08a1e", DELIVERED: "#1f9d55", CANCELLED: "#d64545" };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  async function api(path) {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const answer = await fetch(path, { headers });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.error || `${answer.status} ${answer.statusText}`);
    return body;
  }

  // A time-series chart whose series appear as their names first show up in the data.
  class TimeChart {
    constructor(container, unit) {
      this.container = container;
      this.unit = unit;
      this.names = [];
      this.times = [];
      this.values = {};
      this.styles = {}; // name → {stroke, dash}: series drawn alike (a source's p50 and p95)
      this.plot = null;
      new ResizeObserver(() => this.plot && this.plot.setSize(this.size())).observe(container);
    }
    size() { return { width: Math.max(200, this.container.clientWidth), height: this.container.classList.contains("small") ? 170 : 210 }; }
    push(t, point) {
      const fresh = Object.keys(point).filter((name) => !this.names.includes(name));
      for (const name of fresh) { this.names.push(name); this.values[name] = this.times.map(() => null); }
      this.times.push(t);
      for (const name of this.names) this.values[name].push(point[name] ?? null);
      if (this.times.length > HISTORY) { this.times.shift(); for (const name of this.names) this.values[name].shift(); }
      if (fresh.length || !this.plot) this.build(); else this.plot.setData(this.data());
    }
    replace(times, series, styles) {
      this.times = times; this.values = series; this.names = Object.keys(series); this.styles = styles || {}; this.build();
    }
    data() { return [this.times, ...this.names.map((name) => this.values[name])]; }
    build() {
      if (this.plot) this.plot.destroy();
      const series = [{}, ...this.names.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, ...(this.styles[name] || {}) }))];
      const unit = this.unit;
      this.plot = new uPlot({ ...this.size(), series, scales: { x: { time: true } }, axes: [{}, { values: (u, ticks) => ticks.map((v) => `${fmt(v)}${unit}`), size: 60 }], legend: { live: false } }, this.data(), this.container);
    }
  }

  const fmt = (n) => (n === null || n === undefined ? "–" : n >= 10000 ? `${(n / 1000).toFixed(0)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : `${Math.round(n * 10) / 10}`);
  const when = (ms) => new Date(ms).toLocaleTimeString();
  const short = (id) => (id ? `…${String(id).slice(-12)}` : ""); // UUIDv7s share their first digits (time)

  const rates = new TimeChart($("chart-rates"), "/s");
  const lags = new TimeChart($("chart-lag"), "");
  const fulfilment = new TimeChart($("chart-fulfilment"), " s");
  const orders = new TimeChart($("chart-orders"), "");
  const windows = new Map(); // analytics' merged windows by start (ms), the latest kept
  let windowMs = null;
  let partitionsSeen = 0; // of analytics' input topic: a window with fewer is still filling
  let lastTick = 0;

  function setPart(name, state, reason) {
    const part = $(`part-${name}`);
    part.dataset.state = state;
    part.title = reason || "";
  }

  function onTick(tick) {
    lastTick = Date.now();
    setPart("api", "up", "");
    const reasons = [];
    for (const [name, part] of Object.entries(tick.health || {})) {
      setPart(name, part.up ? "up" : "down", part.reason);
      if (!part.up) reasons.push(`${name} down (${part.address}): ${part.reason}`);
    }
    $("down-reasons").textContent = reasons.join(" · ");
    $("updated").textContent = new Date(tick.t * 1000).toLocaleTimeString();
    const topicRates = Object.fromEntries(Object.entries(tick.topics || {}).map(([name, t]) => [name, t.rate]));
    const groupLags = Object.fromEntries(Object.entries(tick.groups || {}).map(([name, g]) => [name, g.lag]));
    if (Object.keys(topicRates).length) rates.push(tick.t, topicRates);
    if (Object.keys(groupLags).length) lags.push(tick.t, groupLags);
    $("rates-now").textContent = Object.entries(topicRates).map(([n, r]) => `${n} ${fmt(r)}/s`).join(" · ");
    $("lag-now").textContent = Object.entries(groupLags).map(([n, l]) => `${n} ${fmt(l)}`).join(" · ");
    if (tick.analytics) describeAnalytics(tick.analytics);
    drawTotals(tick);
  }

  const duration = (ms) => (ms % 60000 === 0 ? `${ms / 60000} min` : `${ms / 1000} s`);

  function describeAnalytics(summary) {
    windowMs = summary.window_ms || windowMs;
    partitionsSeen = Math.max(partitionsSeen, (summary.partitions || []).length);
    const size = windowMs ? ` of ${duration(windowMs)}` : "";
    $("windows-note").textContent = `analytics' closed windows${size} (event time), from ${summary.topic}`;
  }

  function takeWindows(found) {
    for (const w of found) windows.set(w.window_start, w);
    const starts = [...windows.keys()].sort((a, b) => a - b);
    for (const start of starts.slice(0, -WINDOWS_SHOWN)) windows.delete(start);
    drawWindows([...windows.keys()].sort((a, b) => a - b).map((start) => windows.get(start)));
  }

  async function loadWindows() {
    try {
      const found = await api(`/analytics/windows?limit=${WINDOWS_SHOWN}`);
      describeAnalytics(found);
      windows.clear();
      takeWindows(found.windows);
      $("windows-status").dataset.loaded = "true";
    } catch (error) { /* the stream's state says what is down */ }
  }

  function windowLabel(w) {
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", ...(w.window_end - w.window_start < 60000 ? { second: "2-digit" } : {}) };
    return new Date(w.window_start).toLocaleTimeString([], options);
  }

  function drawBars(container, windows, field, colors) {
    const order = Object.keys(colors);
    const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
    const names = [...new Set(windows.flatMap((w) => Object.keys(w[field])))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const top = Math.max(1, ...windows.map((w) => w.events));
    const rows = windows.slice().reverse().map((w) => el("div", { class: w.partitions.length < partitionsSeen ? "bar-row partial" : "bar-row", "data-start": w.window_start, "data-events": w.events, "data-partitions": w.partitions.join(",") },
      el("span", { class: "muted", title: `${new Date(w.window_start).toISOString()} → ${new Date(w.window_end).toISOString()}, partitions ${w.partitions.join(", ")}${w.partitions.length < partitionsSeen ? " (others still open)" : ""}${w.late ? `, ${w.late} late` : ""}` }, windowLabel(w)),
      el("div", { class: "bar", style: `width:${Math.max(2, (100 * w.events) / top)}%` },
        names.map((name, i) => el("span", { title: `${name}: ${w[field][name] || 0}`, style: `width:${(100 * (w[field][name] || 0)) / Math.max(1, w.events)}%;background:${colors[name] || COLORS[i % COLORS.length]}` }))),
      el("span", {}, fmt(w.events))));
    const legend = el("div", { class: "legend" }, names.map((name, i) => el("span", {}, el("i", { style: `background:${colors[name] || COLORS[i % COLORS.length]}` }), name)));
    container.replaceChildren(...rows, legend);
    container.dataset.count = String(windows.length);
  }

  function drawWindows(shown) {
    if (!shown.length) {
      const none = () => el("p", { class: "muted" }, "No closed window yet: analytics writes one when its partition's event time passes the window's end and grace. Is it running? (python cli.py consume analytics)");
      $("windows-status").replaceChildren(none());
      $("windows-source").replaceChildren(none());
      $("windows-status").dataset.count = $("windows-source").dataset.count = "0";
      return;
    }
    drawBars($("windows-status"), shown, "by_status", STATUS_COLORS);
    drawBars($("windows-source"), shown, "by_source", {});
    const times = shown.map((w) => w.window_start / 1000);
    const sources = [...new Set(shown.flatMap((w) => Object.keys(w.fulfilment)))].sort();
    const series = {};
    const styles = {};
    sources.forEach((source, i) => {
      for (const [q, dash] of [["p50", undefined], ["p95", [6, 4]]]) {
        const name = `${source} ${q}`;
        series[name] = shown.map((w) => { const ms = (w.fulfilment[source] || {})[`${q}_ms`]; return ms === null || ms === undefined ? null : ms / 1000; });
        styles[name] = { stroke: COLORS[i % COLORS.length], ...(dash ? { dash } : {}) };
      }
    });
    fulfilment.replace(times, series, styles);
    const count = (field) => shown.map((w) => w[field]);
    orders.replace(times, { placed: count("placed"), delivered: count("delivered"), cancelled: count("cancelled"), "late events": count("late") },
      { placed: { stroke: STATUS_COLORS.PLACED }, delivered: { stroke: STATUS_COLORS.DELIVERED }, cancelled: { stroke: STATUS_COLORS.CANCELLED }, "late events": { stroke: "#8e5bd8", dash: [6, 4] } });
  }

  function drawTotals(tick) {
    const rows = [];
    for (const [table, n] of Object.entries(tick.store_rows || {})) rows.push([`store: ${table}`, n]);
    for (const [name, g] of Object.entries(tick.groups || {})) rows.push([`${name}: consumed`, g.consumed]);
    for (const [kind, n] of Object.entries(tick.alerts_by_kind || {})) rows.push([`alerts: ${kind}`, n]);
    for (const [kind, n] of Object.entries(tick.dead_letters_by_kind || {})) rows.push([`dead letters: ${kind}`, n]);
    const totals = (tick.analytics || {}).totals;
    if (totals && totals.events) {
      for (const name of ["events", "placed", "delivered", "cancelled", "late"]) rows.push([`analytics: ${name}`, totals[name]]);
    }
    $("totals").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v.toLocaleString()))));
    const total = (counts) => Object.values(counts || {}).reduce((a, b) => a + b, 0);
    $("alerts-count").textContent = `${total(tick.alerts_by_kind).toLocaleString()} in all`;
    $("dead-letters-count").textContent = `${total(tick.dead_letters_by_kind).toLocaleString()} in all`;
  }

  function alertItem(a, fresh) {
    return el("li", { class: fresh ? "fresh" : "", "data-order": a.order_id || "" },
      el("span", { class: "kind" }, a.kind), " ", a.detail || "", " ",
      el("span", { class: "muted" }, `order ${short(a.order_id)} · ${a.detected_at ? when(a.detected_at) : ""}`));
  }

  function letterItem(d, fresh) {
    const origin = d.origin && d.origin.topic ? `${d.origin.topic}[${d.origin.partition}]@${d.origin.offset}` : "?";
    return el("li", { class: fresh ? "fresh" : "", "data-kind": d.kind },
      el("span", { class: "kind" }, d.kind), " ", el("b", {}, d.service || "?"), " ", d.reason, el("br"),
      el("span", { class: "muted" }, `from ${origin} · ${d.size} bytes · ${when(d.timestamp_ms)} · `),
      el("code", {}, d.preview ? d.preview.text : ""));
  }

  function prepend(list, item) {
    list.prepend(item);
    while (list.children.length > FEED_ROWS) list.lastChild.remove();
  }

  async function loadFeeds() {
    try {
      const alerts = await api("/alerts?limit=30");
      $("alerts").replaceChildren(...alerts.alerts.map((a) => alertItem(a, false)));
      const letters = await api("/dead-letters?limit=30");
      $("dead-letters").replaceChildren(...letters.dead_letters.map((d) => letterItem(d, false)));
    } catch (error) { /* the stream's state says what is down */ }
  }

  async function loadSchemas() {
    try {
      const found = await api("/schemas");
      $("global-level").textContent = `global level ${found.global_level}`;
      const head = el("tr", {}, el("th", {}, "subject"), el("th", {}, "level"), el("th", {}, "versions (id)"));
      $("schemas").replaceChildren(head, ...found.subjects.map((s) => el("tr", { "data-subject": s.subject },
        el("td", {}, s.subject), el("td", {}, s.level), el("td", {}, s.versions.map((v) => `v${v.version} (id ${v.id})`).join(", ")))));
    } catch (error) {
      $("global-level").textContent = `cannot list: ${error.message}`;
    }
  }

  async function showTimeline(orderId) {
    const box = $("timeline");
    try {
      const found = await api(`/orders/${encodeURIComponent(orderId)}`);
      const columns = ["timestamp", "status", "event_type", "amount", "currency", "schema_version", "kafka_partition", "kafka_offset"];
      box.replaceChildren(el("h2", {}, `Timeline of ${orderId}`), el("table", { class: "grid", id: "timeline-table" },
        el("tr", {}, columns.map((c) => el("th", {}, c.replace("kafka_", "")))),
        found.timeline.map((e) => el("tr", { "data-status": e.status }, columns.map((c) => el("td", {}, e[c] ?? ""))))));
    } catch (error) {
      box.replaceChildren(el("p", { class: "muted" }, error.message));
    }
  }

  async function search(event) {
    if (event) event.preventDefault();
    const text = $("search-text").value.trim();
    const status = $("search-status").value;
    const list = $("orders");
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) {
      list.replaceChildren();
      return showTimeline(text);
    }
    const query = new URLSearchParams({ limit: "20" });
    if (text) query.set("user_id", text);
    if (status) query.set("status", status);
    try {
      const found = await api(`/orders?${query}`);
      list.replaceChildren(...(found.orders.length ? found.orders.map((o) => el("li", { class: "order", "data-order": o.order_id, onclick: () => showTimeline(o.order_id) },
        el("span", { class: "kind" }, o.status), " ", el("code", {}, o.order_id), " ", el("span", { class: "muted" }, `${o.user_id} · ${o.source || ""} · ${o.placed_at || ""}`))) : [el("li", { class: "muted" }, "no orders found")]));
    } catch (error) {
      list.replaceChildren(el("li", { class: "muted" }, error.message));
    }
  }

  function connect() {
    const stream = new EventSource(`/events/stream${token ? `?token=${encodeURIComponent(token)}` : ""}`);
    stream.addEventListener("open", () => { setPart("api", "up", ""); loadFeeds(); loadSchemas(); loadWindows(); });
    stream.addEventListener("tick", (e) => onTick(JSON.parse(e.data)));
    stream.addEventListener("window", (e) => takeWindows([JSON.parse(e.data)]));
    stream.addEventListener("alert", (e) => prepend($("alerts"), alertItem(JSON.parse(e.data), true)));
    stream.addEventListener("dead-letter", (e) => prepend($("dead-letters"), letterItem(JSON.parse(e.data), true)));
    stream.addEventListener("error", () => {
      apiDown("the API does not answer; reconnecting");
      if (stream.readyState === EventSource.CLOSED) setTimeout(connect, 3000); // refused: retry by hand
    });
  }

  function apiDown(reason) {
    setPart("api", "down", reason);
    for (const name of ["broker", "registry", "store"]) setPart(name, "unknown", "unknown while the API is down");
    $("down-reasons").textContent = `api down: ${reason}`;
  }

  // A stream that stops ticking (a stalled proxy, a paused laptop) is shown as down too.
  setInterval(() => { if (lastTick && Date.now() - lastTick > 6000) apiDown("no update for 6 s"); }, 2000);
  setInterval(loadSchemas, 15000);
  $("search").addEventListener("submit", search);
  connect();
  search();
})();
