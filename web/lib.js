/* Shared by the pages: the API, the error banner, the URL state, Plotly defaults and tables. */

export const fmt = globalThis.NetmonFormat;
export const PLOT_CONFIG = { displaylogo: false, responsive: true };
export const LAYOUT = {
  margin: { t: 10, r: 10, b: 30, l: 55 },
  font: { size: 11 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
};
export const COLORS = { received: "#1f77b4", sent: "#ff7f0e" };
export const EMPTY = "no data yet — is the daemon capturing? see Configuration → Status";

let plotlyLoading;

/** Loads Plotly.js (web/vendor, from npm at build time) once, for the pages with charts. */
export function loadPlotly() {
  plotlyLoading ??= new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement("script"), { src: "vendor/plotly.min.js" });
    script.onload = () => {
      performance.mark("plotly-ready");
      resolve();
    };
    script.onerror = () => reject(new Error("cannot load vendor/plotly.min.js — were the web assets built (npm run build:web)?"));
    document.head.append(script);
  });
  return plotlyLoading;
}

/** GET (or another method with a JSON body) under /api; throws with the server's problems. */
export async function api(path, { method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    const unreachable = new Error(`cannot reach netmon at ${location.host} — is it running? (${error.message})`);
    showError(unreachable);
    throw unreachable;
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((answer.problems || [`${response.status} ${response.statusText}`]).join("; "));
    error.status = response.status;
    error.problems = answer.problems || [];
    throw error;
  }
  showError(null);
  return answer;
}

export function showError(error) {
  const banner = document.getElementById("error");
  banner.textContent = error ? `⚠ ${error.message}` : "";
  banner.hidden = !error;
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The page and its parameters from the URL: `#apps?range=7d&app=zen`. */
export function route() {
  const [page, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { page: page || "overview", params: new URLSearchParams(query) };
}

/** Changes parameters of the current page in the URL (replacing the history entry). */
export function setParams(changes) {
  const { page, params } = route();
  Object.entries(changes).forEach(([key, value]) => (value === null || value === undefined ? params.delete(key) : params.set(key, value)));
  const query = params.toString();
  history.replaceState(null, "", `#${page}${query ? `?${query}` : ""}`);
}

export const RANGES = ["24h", "7d", "30d"];

/** Range buttons in `container` reflecting the URL's `range`; `onChange(range)` on click. */
export function rangeButtons(container, onChange) {
  const current = RANGES.includes(route().params.get("range")) ? route().params.get("range") : "24h";
  container.innerHTML = RANGES.map((range) => `<button data-range="${range}" class="${range === current ? "active" : ""}">${range.replace(/(\d+)/, "$1 ")}</button>`).join("");
  container.querySelectorAll("button").forEach((button) =>
    button.addEventListener("click", () => {
      container.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === button));
      setParams({ range: button.dataset.range });
      onChange(button.dataset.range);
    }));
  return current;
}

/** Received and sent as two line traces over bucket start times. */
export function timelineTraces(points) {
  const x = points.map((point) => new Date(point.start_ms));
  return [
    { name: "received", x, y: points.map((p) => p.received), type: "scatter", mode: "lines", fill: "tozeroy", line: { color: COLORS.received } },
    { name: "sent", x, y: points.map((p) => p.sent), type: "scatter", mode: "lines", line: { color: COLORS.sent } },
  ];
}

export function bucketTitle(bucketMs) {
  const minutes = bucketMs / 60000;
  if (minutes < 60) return `bytes per ${minutes} min`;
  if (minutes < 1440) return `bytes per ${minutes / 60} h`;
  return `bytes per ${minutes / 1440} day`;
}

export function timelineLayout(bucketMs) {
  return {
    ...LAYOUT,
    yaxis: { title: { text: bucketTitle(bucketMs) }, tickformat: ".2s" },
    legend: { orientation: "h", y: 1.12 },
    xaxis: { rangeslider: { visible: false } },
  };
}

/** A CSV file of `rows` under `columns` ([{ key, label }]), offered as a download. */
export function downloadCsv(name, columns, rows) {
  const cell = (value) => {
    const text = String(value ?? "");
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [columns.map((c) => cell(c.label)), ...rows.map((row) => columns.map((c) => cell(row[c.key])))];
  const url = URL.createObjectURL(new Blob([lines.map((l) => l.join(",")).join("\n")], { type: "text/csv" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * A sortable, filterable table. `columns`: [{ key, label, num, render }]. Returns `setRows(rows)`.
 * Clicking a header sorts by it (again: reverses); the filter matches the first column, or the
 * text `filterText(row)` gives.
 */
export function dataTable(table, { columns, sortKey, filterInput, filterText, csvButton, csvName, onRowClick, empty = EMPTY }) {
  let rows = [];
  let sort = { key: sortKey, descending: true };
  table.innerHTML = `<thead><tr>${columns.map((c) => `<th data-key="${c.key}" class="${c.num ? "num" : ""}">${escapeHtml(c.label)}</th>`).join("")}</tr></thead><tbody></tbody>`;
  const visible = () => {
    const filter = (filterInput?.value || "").toLowerCase();
    const compare = (a, b) => {
      const [x, y] = [a[sort.key], b[sort.key]];
      const order = typeof x === "string" ? x.localeCompare(y) : x - y;
      return sort.descending ? -order : order;
    };
    const text = filterText || ((row) => row[columns[0].key]);
    return rows.filter((row) => String(text(row)).toLowerCase().includes(filter)).sort(compare);
  };
  const render = () => {
    table.querySelectorAll("th").forEach((th) => {
      th.dataset.sorted = th.dataset.key === sort.key ? (sort.descending ? "desc" : "asc") : "";
    });
    const shown = visible();
    table.querySelector("tbody").innerHTML = shown.length
      ? shown.map((row, index) => `<tr data-index="${index}">${columns.map((c) => `<td class="${c.num ? "num" : ""}">${c.render ? c.render(row[c.key], row) : escapeHtml(row[c.key])}</td>`).join("")}</tr>`).join("")
      : `<tr><td colspan="${columns.length}" class="empty">${escapeHtml(rows.length ? "nothing matches the filter" : empty)}</td></tr>`;
    if (onRowClick) {
      table.querySelectorAll("tbody tr[data-index]").forEach((tr) => {
        tr.classList.add("clickable");
        tr.addEventListener("click", () => onRowClick(shown[Number(tr.dataset.index)]));
      });
    }
  };
  table.querySelectorAll("th").forEach((th) =>
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      sort = { key, descending: sort.key === key ? !sort.descending : typeof rows[0]?.[key] !== "string" };
      render();
    }));
  filterInput?.addEventListener("input", render);
  csvButton?.addEventListener("click", () => downloadCsv(csvName, columns, visible()));
  return (newRows) => {
    rows = newRows;
    render();
  };
}

export const bytesCell = (value) => fmt.bytes(value);

/** The columns of a table of registrable domains (`store::DomainTotal` with its total). */
export const DOMAIN_COLUMNS = [
  { key: "domain", label: "Domain" },
  { key: "total", label: "Total", num: true, render: bytesCell },
  { key: "received", label: "Received", num: true, render: bytesCell },
  { key: "sent", label: "Sent", num: true, render: bytesCell },
  { key: "hostnames", label: "Hosts", num: true },
];
export const timeCell = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

export function withTotal(item) {
  return { ...item, total: item.sent + item.received };
}
