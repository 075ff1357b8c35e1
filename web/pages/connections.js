/* Connections: the open flows now (GET /api/connections), refreshed every second while the
 * page is shown; sortable, filterable over process, address, hostname and how it was named. */

import { api, fmt, route, dataTable, bytesCell } from "../lib.js";

/** Connections asked for: the busiest, as many as the API gives at most. */
const LIMIT = 500;
const REFRESH_MS = 1000;
let setConnections;
let timer;

const rateCell = (value) => fmt.rate(value);

export function mount() {
  setConnections = dataTable(document.getElementById("connection-table"), {
    columns: [
      { key: "process", label: "Process (PID)" },
      { key: "remote", label: "Remote" },
      { key: "host", label: "Hostname" },
      { key: "named", label: "Named by" },
      { key: "protocol", label: "Protocol" },
      { key: "received_bytes_per_second", label: "↓ Receive", num: true, render: rateCell },
      { key: "sent_bytes_per_second", label: "↑ Send", num: true, render: rateCell },
      { key: "so_far", label: "So far", num: true, render: bytesCell },
    ],
    sortKey: "rate",
    filterInput: document.getElementById("connection-filter"),
    filterText: (row) => [row.process, row.remote, row.host, row.named, row.protocol].join(" "),
    csvButton: document.getElementById("connection-table-csv"),
    csvName: "netmon-connections.csv",
    empty: "no open connection — is the daemon capturing? see Configuration → Status",
  });
}

/** One connection as a table row. */
function row(connection) {
  const remote = connection.remote_address.includes(":") ? `[${connection.remote_address}]` : connection.remote_address;
  return {
    process: connection.pid === null || connection.pid === undefined ? connection.app : `${connection.app} (${connection.pid})`,
    remote: `${remote}:${connection.remote_port}`,
    // No hostname: nothing named the flow, or its application's domains are not tracked.
    host: connection.host ?? (connection.provenance ? "unresolved" : "–"),
    named: connection.provenance ?? "not tracked",
    protocol: connection.protocol,
    received_bytes_per_second: connection.received_bytes_per_second,
    sent_bytes_per_second: connection.sent_bytes_per_second,
    rate: connection.received_bytes_per_second + connection.sent_bytes_per_second,
    so_far: connection.received_bytes + connection.sent_bytes,
  };
}

async function load() {
  const answer = await api(`/connections?limit=${LIMIT}`);
  setConnections(answer.connections.map(row));
  const shown = answer.connections.length;
  document.getElementById("connections-count").textContent =
    `(${answer.open} open${shown < answer.open ? `, the ${shown} busiest shown` : ""}; every second)`;
}

/** Refreshes every second while this page is the one shown. */
function follow() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (route().page !== "connections") return;
    await load().catch(() => {});
    follow();
  }, REFRESH_MS);
}

export async function show() {
  await load();
  follow();
}
