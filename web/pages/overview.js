/* Overview: what is unusual now, live gauge, timeline, top applications, top domains, totals. */

import { api, fmt, LAYOUT, PLOT_CONFIG, rangeButtons, timelineTraces, timelineLayout, dataTable, bytesCell, timeCell, withTotal, escapeHtml } from "../lib.js";

let setApps;
let setDomains;
let gaugeDrawn = false;

export function mount() {
  setApps = dataTable(document.getElementById("apps"), {
    columns: [
      { key: "app", label: "Application", render: (app) => `<a href="#apps?app=${encodeURIComponent(app)}">${escapeHtml(app)}</a>` },
      { key: "total", label: "Total", num: true, render: bytesCell },
      { key: "received", label: "Received", num: true, render: bytesCell },
      { key: "sent", label: "Sent", num: true, render: bytesCell },
      { key: "last_seen_ms", label: "Last seen", num: true, render: timeCell },
    ],
    sortKey: "total",
    filterInput: document.getElementById("filter"),
    csvButton: document.getElementById("apps-csv"),
    csvName: "netmon-applications.csv",
  });
  setDomains = dataTable(document.getElementById("domains"), {
    columns: [
      { key: "domain", label: "Domain" },
      { key: "total", label: "Total", num: true, render: bytesCell },
      { key: "hostnames", label: "Hosts", num: true },
    ],
    sortKey: "total",
    csvButton: document.getElementById("domains-csv"),
    csvName: "netmon-domains.csv",
    empty: "no browser traffic with a known domain yet",
  });
  drawGauge(0);
}

export async function show() {
  const range = rangeButtons(document.getElementById("overview-ranges"), load);
  await load(range);
}

async function load(range) {
  await Promise.all([loadUnusual(), loadSummary(), loadTimeline(range), loadApps(range), loadDomains(range)]);
}

/** The applications and domains whose current hour is far above the same hour of past weeks. */
async function loadUnusual() {
  const unusual = await api("/alerts/unusual");
  document.getElementById("unusual").innerHTML = unusual.length
    ? unusual.map((u) => `<li title="usually ${fmt.bytes(u.baseline.median)} in this hour of the week">${escapeHtml(u.name)}: ${u.factor.toFixed(0)}× usual (${fmt.bytes(u.bytes)} this hour)</li>`).join("")
    : `<li class="calm">nothing unusual this hour</li>`;
}

/** A new alert: an unusual hour shows in the strip at once. */
export function alert(raised) {
  if (raised.kind === "unusual") loadUnusual().catch(() => {});
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
  await Plotly.react("timeline", timelineTraces(timeline.points), timelineLayout(timeline.bucket_ms), PLOT_CONFIG);
}

async function loadDomains(range) {
  setDomains((await api(`/domains?range=${range}&limit=15`)).map(withTotal));
}

async function loadApps(range) {
  const apps = (await api(`/apps?range=${range}&limit=1000`)).map(withTotal);
  const slices = fmt.topWithOther(apps, 10);
  const pie = [{ type: "pie", labels: slices.map((s) => s.label), values: slices.map((s) => s.value), textinfo: "label+percent", hole: 0.4, sort: false, automargin: true }];
  await Plotly.react("pie", pie, { ...LAYOUT, showlegend: false }, PLOT_CONFIG);
  setApps(apps);
}

function drawGauge(bytesPerSecond) {
  const max = Math.max(1e6, 10 ** Math.ceil(Math.log10(bytesPerSecond + 1)));
  const gauge = [{ type: "indicator", mode: "gauge+number", value: bytesPerSecond,
    number: { valueformat: ".3s", suffix: "B/s" },
    gauge: { axis: { range: [0, max], tickformat: ".0s", exponentformat: "SI", ticksuffix: "B/s" } } }];
  Plotly.react("gauge", gauge, { ...LAYOUT, margin: { t: 20, r: 50, b: 10, l: 50 } }, PLOT_CONFIG);
  gaugeDrawn = true;
}

/** A live sample from the SSE stream: the gauge shows its total rate. */
export function live(sample) {
  if (gaugeDrawn) drawGauge(sample.received_bytes_per_second + sample.sent_bytes_per_second);
}
