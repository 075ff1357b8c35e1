/* Applications: every application in a range; one in detail (timeline, executable, processes,
 * registrable domains). */

import { api, rangeButtons, route, setParams, timelineTraces, timelineLayout, dataTable, bytesCell, timeCell, withTotal, escapeHtml, DOMAIN_COLUMNS, PLOT_CONFIG } from "../lib.js";

let setApps;
let setProcesses;
let setDomains;
let range = "24h";

export function mount() {
  setApps = dataTable(document.getElementById("app-table"), {
    columns: [
      { key: "app", label: "Application" },
      { key: "total", label: "Total", num: true, render: bytesCell },
      { key: "received", label: "Received", num: true, render: bytesCell },
      { key: "sent", label: "Sent", num: true, render: bytesCell },
      { key: "last_seen_ms", label: "Last seen", num: true, render: timeCell },
    ],
    sortKey: "total",
    filterInput: document.getElementById("app-filter"),
    csvButton: document.getElementById("app-table-csv"),
    csvName: "netmon-applications.csv",
    onRowClick: (row) => {
      setParams({ app: row.app });
      showDetail(row.app).catch(() => {});
    },
  });
  setProcesses = dataTable(document.getElementById("app-processes"), {
    columns: [
      { key: "name", label: "Process" },
      { key: "pid", label: "PID", num: true },
      { key: "last_seen_ms", label: "Last seen", num: true, render: timeCell },
    ],
    sortKey: "last_seen_ms",
    csvButton: document.getElementById("app-processes-csv"),
    csvName: "netmon-processes.csv",
    empty: "no process recorded for this application",
  });
  setDomains = dataTable(document.getElementById("app-domains"), {
    columns: DOMAIN_COLUMNS,
    sortKey: "total",
    csvButton: document.getElementById("app-domains-csv"),
    csvName: "netmon-app-domains.csv",
    empty: "no domain recorded for this application (domain_tracking covers browsers by default)",
  });
}

export async function show(params) {
  range = rangeButtons(document.getElementById("apps-ranges"), (newRange) => {
    range = newRange;
    load(route().params.get("app")).catch(() => {});
  });
  await load(params.get("app"));
}

async function load(selected) {
  const apps = (await api(`/apps?range=${range}&limit=1000`)).map(withTotal);
  setApps(apps);
  const app = selected || apps[0]?.app;
  if (app) await showDetail(app);
}

async function showDetail(app) {
  const detail = await api(`/apps/${encodeURIComponent(app)}?range=${range}`);
  document.getElementById("app-title").textContent = `${detail.app} — sent and received`;
  const pids = [...new Set(detail.processes.map((p) => p.pid))].sort((a, b) => a - b);
  const facts = [
    ["Executable", detail.exe || "unknown"],
    ["PIDs seen", pids.join(", ") || "none"],
    ["First seen", timeCell(detail.first_seen_ms)],
    ["Last seen", timeCell(detail.last_seen_ms)],
  ];
  document.getElementById("app-facts").innerHTML = facts.map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v)}</dd>`).join("");
  await Plotly.react("app-timeline", timelineTraces(detail.points), timelineLayout(detail.bucket_ms), PLOT_CONFIG);
  setProcesses(detail.processes);
  setDomains(detail.domains.map(withTotal));
}
