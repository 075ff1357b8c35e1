/* Domains: top registrable domains, the domain → hostname rollup, one domain's hostnames. */

import { api, fmt, rangeButtons, route, setParams, dataTable, bytesCell, withTotal, DOMAIN_COLUMNS, LAYOUT, PLOT_CONFIG, COLORS } from "../lib.js";

const SUNBURST_DOMAINS = 10;
const BARS = 15;
/** Hostnames drawn per domain in the sunburst; the rest share one "N more" slice. */
const SUNBURST_HOSTS = 12;
let setDomains;
let setHostnames;
let range = "24h";

export function mount() {
  setDomains = dataTable(document.getElementById("domain-table"), {
    columns: [...DOMAIN_COLUMNS, { key: "named", label: "Named by" }],
    sortKey: "total",
    filterInput: document.getElementById("domain-filter"),
    csvButton: document.getElementById("domain-table-csv"),
    csvName: "netmon-domains.csv",
    empty: "no browser traffic with a known domain yet — is the browser extension installed? see Configuration → Status",
    onRowClick: (row) => selectDomain(row.domain).catch(() => {}),
  });
  setHostnames = dataTable(document.getElementById("hostname-table"), {
    columns: [
      { key: "hostname", label: "Hostname" },
      { key: "total", label: "Total", num: true, render: bytesCell },
      { key: "received", label: "Received", num: true, render: bytesCell },
      { key: "sent", label: "Sent", num: true, render: bytesCell },
    ],
    sortKey: "total",
    csvButton: document.getElementById("hostname-table-csv"),
    csvName: "netmon-hostnames.csv",
    empty: "choose a domain",
  });
}

export async function show(params) {
  range = rangeButtons(document.getElementById("domains-ranges"), (newRange) => {
    range = newRange;
    load(route().params.get("domain")).catch(() => {});
  });
  await load(params.get("domain"));
}

const hostnamesOf = async (domain) =>
  (await api(`/domains/${encodeURIComponent(domain)}/hostnames?range=${range}`)).map(withTotal);

async function load(selected) {
  const domains = (await api(`/domains?range=${range}&limit=200`)).map((d) => ({ ...withTotal(d), named: fmt.namedBy(d.provenance) }));
  setDomains(domains);
  const top = domains.slice(0, SUNBURST_DOMAINS);
  const rollup = await Promise.all(top.map(async (d) => ({ domain: d.domain, hosts: await hostnamesOf(d.domain) })));
  await Promise.all([drawBars(domains.slice(0, BARS)), drawSunburst(rollup)]);
  const domain = selected || domains[0]?.domain;
  const known = rollup.find((entry) => entry.domain === domain);
  if (domain) await selectDomain(domain, known?.hosts);
}

let selecting = 0;

async function selectDomain(domain, hosts) {
  const request = ++selecting;
  const rows = hosts || (await hostnamesOf(domain));
  if (request !== selecting) return; // a later click won
  setParams({ domain });
  document.getElementById("hostnames-title").firstChild.textContent = `Hostnames under ${domain} `;
  setHostnames(rows);
}

function drawBars(domains) {
  const y = domains.map((d) => d.domain).reverse();
  const trace = (direction) => ({
    type: "bar", orientation: "h", name: direction, y, x: domains.map((d) => d[direction]).reverse(), marker: { color: COLORS[direction] },
  });
  const layout = { ...LAYOUT, barmode: "stack", margin: { ...LAYOUT.margin, l: 110 }, xaxis: { tickformat: ".2s", title: { text: "bytes" } }, legend: { orientation: "h", y: 1.1 } };
  return Plotly.react("domain-bars", [trace("received"), trace("sent")], layout, PLOT_CONFIG);
}

/** A domain's sunburst slices: its busiest hostnames, then one slice for all the others. */
function slicesOf(entry) {
  const hosts = [...entry.hosts].sort((a, b) => b.total - a.total);
  const shown = hosts.slice(0, SUNBURST_HOSTS).map((h) => ({ id: `${entry.domain}/${h.hostname}`, label: h.hostname, value: h.total }));
  const rest = hosts.slice(SUNBURST_HOSTS);
  const others = { id: `${entry.domain}/…`, label: `${rest.length} more hostnames`, value: rest.reduce((sum, h) => sum + h.total, 0) };
  return rest.length ? [...shown, others] : shown;
}

function drawSunburst(rollup) {
  const domainTotal = (entry) => entry.hosts.reduce((sum, host) => sum + host.total, 0);
  const slices = rollup.map((entry) => ({ domain: entry.domain, slices: slicesOf(entry) }));
  const ids = [...rollup.map((e) => e.domain), ...slices.flatMap((e) => e.slices.map((s) => s.id))];
  const labels = [...rollup.map((e) => e.domain), ...slices.flatMap((e) => e.slices.map((s) => s.label))];
  const parents = [...rollup.map(() => ""), ...slices.flatMap((e) => e.slices.map(() => e.domain))];
  const values = [...rollup.map(domainTotal), ...slices.flatMap((e) => e.slices.map((s) => s.value))];
  const trace = { type: "sunburst", ids, labels, parents, values, branchvalues: "total", maxdepth: 2, insidetextorientation: "radial", hovertemplate: "%{label}<br>%{value:.3s}B<extra></extra>" };
  return Plotly.react("domain-sunburst", [trace], { ...LAYOUT, margin: { t: 0, r: 0, b: 0, l: 0 } }, PLOT_CONFIG);
}
