/* Domains: top registrable domains, the domain → hostname rollup, one domain's hostnames. */

import { api, rangeButtons, route, setParams, dataTable, bytesCell, withTotal, LAYOUT, PLOT_CONFIG, COLORS } from "../lib.js";

const SUNBURST_DOMAINS = 10;
const BARS = 15;
let setDomains;
let setHostnames;
let range = "24h";

export function mount() {
  setDomains = dataTable(document.getElementById("domain-table"), {
    columns: [
      { key: "domain", label: "Domain" },
      { key: "total", label: "Total", num: true, render: bytesCell },
      { key: "received", label: "Received", num: true, render: bytesCell },
      { key: "sent", label: "Sent", num: true, render: bytesCell },
      { key: "hostnames", label: "Hosts", num: true },
    ],
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
  const domains = (await api(`/domains?range=${range}&limit=200`)).map(withTotal);
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

function drawSunburst(rollup) {
  const domainTotal = (entry) => entry.hosts.reduce((sum, host) => sum + host.total, 0);
  const ids = [...rollup.map((e) => e.domain), ...rollup.flatMap((e) => e.hosts.map((h) => `${e.domain}/${h.hostname}`))];
  const labels = [...rollup.map((e) => e.domain), ...rollup.flatMap((e) => e.hosts.map((h) => h.hostname))];
  const parents = [...rollup.map(() => ""), ...rollup.flatMap((e) => e.hosts.map(() => e.domain))];
  const values = [...rollup.map(domainTotal), ...rollup.flatMap((e) => e.hosts.map((h) => h.total))];
  const trace = { type: "sunburst", ids, labels, parents, values, branchvalues: "total", maxdepth: 2, insidetextorientation: "radial", hovertemplate: "%{label}<br>%{value:.3s}B<extra></extra>" };
  return Plotly.react("domain-sunburst", [trace], { ...LAYOUT, margin: { t: 0, r: 0, b: 0, l: 0 } }, PLOT_CONFIG);
}
