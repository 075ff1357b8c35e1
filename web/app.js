/* The Overview page: reads only the JSON API and the SSE stream. */
"use strict";

/* global Plotly, NetmonFormat */
const fmt = NetmonFormat;
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const LAYOUT = { margin: { t: 10, r: 10, b: 30, l: 50 }, font: { size: 11 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
let apps = [];
let sortKey = "total";

async function api(path) {
  const response = await fetch(`/api${path}`);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.problems || [response.statusText]).join("; "));
  return body;
}

function showError(error) {
  document.getElementById("error").textContent = error ? `⚠ ${error.message}` : "";
}

function totalText(totals) {
  return `${fmt.bytes(totals.sent + totals.received)}  (↓ ${fmt.bytes(totals.received)} ↑ ${fmt.bytes(totals.sent)})`;
}

async function loadSummary() {
  const summary = await api("/summary");
  ["today", "week", "month"].forEach((period) => {
    document.getElementById(period).textContent = totalText(summary[period]);
  });
}

async function loadTimeline(range) {
  const timeline = await api(`/timeline?range=${range}`);
  const x = timeline.points.map((point) => new Date(point.start_ms));
  const traces = [
    { name: "received", x, y: timeline.points.map((p) => p.received), type: "scatter", mode: "lines", fill: "tozeroy" },
    { name: "sent", x, y: timeline.points.map((p) => p.sent), type: "scatter", mode: "lines" },
  ];
  const layout = { ...LAYOUT, yaxis: { title: { text: `bytes per ${timeline.bucket_ms / 60000} min` } }, legend: { orientation: "h" } };
  await Plotly.react("timeline", traces, layout, PLOT_CONFIG);
}

async function loadDomains(range) {
  const domains = await api(`/domains?range=${range}&limit=15`);
  const rows = domains.map((d) => `<tr><td>${escapeHtml(d.domain)}</td>` +
    `<td class="num">${fmt.bytes(d.sent + d.received)}</td><td class="num">${d.hostnames}</td></tr>`);
  document.querySelector("#domains tbody").innerHTML =
    rows.join("") || '<tr><td colspan="3" class="muted-dark">no browser traffic with a known domain yet</td></tr>';
}

async function loadApps(range) {
  apps = (await api(`/apps?range=${range}&limit=1000`)).map((app) => ({ ...app, total: app.sent + app.received }));
  const slices = fmt.topWithOther(apps, 10);
  const pie = [{ type: "pie", labels: slices.map((s) => s.label), values: slices.map((s) => s.value), textinfo: "label+percent", hole: 0.4 }];
  await Plotly.react("pie", pie, { ...LAYOUT, showlegend: false }, PLOT_CONFIG);
  renderTable();
}

function renderTable() {
  const filter = document.getElementById("filter").value.toLowerCase();
  const rows = apps
    .filter((app) => app.app.toLowerCase().includes(filter))
    .sort((a, b) => (sortKey === "app" ? a.app.localeCompare(b.app) : b[sortKey] - a[sortKey]))
    .map((app) => `<tr><td>${escapeHtml(app.app)}</td><td class="num">${fmt.bytes(app.total)}</td>` +
      `<td class="num">${fmt.bytes(app.received)}</td><td class="num">${fmt.bytes(app.sent)}</td>` +
      `<td class="num">${new Date(app.last_seen_ms).toLocaleString()}</td></tr>`);
  document.querySelector("#apps tbody").innerHTML = rows.join("");
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function drawGauge(bytesPerSecond) {
  const max = Math.max(1e6, 10 ** Math.ceil(Math.log10(bytesPerSecond + 1)));
  const gauge = [{ type: "indicator", mode: "gauge+number", value: bytesPerSecond,
    number: { valueformat: ".3s", suffix: "B/s" }, gauge: { axis: { range: [0, max] } } }];
  Plotly.react("gauge", gauge, { ...LAYOUT, margin: { t: 20, r: 25, b: 10, l: 25 } }, PLOT_CONFIG);
}

function watchLive() {
  const status = document.getElementById("live-status");
  const events = new EventSource("/api/live");
  events.onmessage = (event) => {
    const live = JSON.parse(event.data);
    const rate = live.received_bytes_per_second + live.sent_bytes_per_second;
    drawGauge(rate);
    const top = live.apps[0] ? ` · busiest: ${live.apps[0].app}` : "";
    status.textContent = `live: ↓ ${fmt.rate(live.received_bytes_per_second)} ↑ ${fmt.rate(live.sent_bytes_per_second)}${top}`;
  };
  events.onerror = () => { status.textContent = "live feed lost; retrying…"; };
}

async function load(range) {
  try {
    await Promise.all([loadSummary(), loadTimeline(range), loadApps(range), loadDomains(range)]);
    showError(null);
  } catch (error) {
    showError(error);
  }
}

document.querySelectorAll(".ranges button").forEach((button) => {
  button.addEventListener("click", () => {
    document.querySelectorAll(".ranges button").forEach((b) => b.classList.toggle("active", b === button));
    load(button.dataset.range);
  });
});
document.querySelectorAll("#apps th").forEach((th) => {
  th.addEventListener("click", () => { sortKey = th.dataset.sort; renderTable(); });
});
document.getElementById("filter").addEventListener("input", renderTable);

drawGauge(0);
watchLive();
load("24h");
