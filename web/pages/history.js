/* History: a local date range driving the timeline, the weekday × hour heatmap and the weekly
 * trend; this month against the previous one. */

import { api, fmt, setParams, timelineTraces, timelineLayout, LAYOUT, PLOT_CONFIG, COLORS } from "../lib.js";

const DAY_MS = 86_400_000;
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export function mount() {
  document.getElementById("history-range").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = document.getElementById("history-from").value;
    const to = document.getElementById("history-to").value;
    setParams({ from, to });
    load(from, to).catch(() => {});
  });
}

/** `YYYY-MM-DD` of a local date. */
function isoDate(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Local midnight of `YYYY-MM-DD`, `days` later. */
function localMidnight(text, days = 0) {
  const [year, month, day] = text.split("-").map(Number);
  return new Date(year, month - 1, day + days).getTime();
}

const validDate = (text) => /^\d{4}-\d{2}-\d{2}$/.test(text || "") && !Number.isNaN(localMidnight(text));

export async function show(params) {
  const today = new Date();
  const from = validDate(params.get("from")) ? params.get("from") : isoDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 29));
  const to = validDate(params.get("to")) ? params.get("to") : isoDate(today);
  document.getElementById("history-from").value = from;
  document.getElementById("history-to").value = to;
  await load(from, to);
}

async function load(from, to) {
  const start = localMidnight(from);
  const end = localMidnight(to, 1);
  if (!(start < end)) throw new Error(`the range ${from} to ${to} is empty: "from" must not be after "to"`);
  const span = `start_ms=${start}&end_ms=${end}`;
  const weeks = Math.min(104, Math.max(1, Math.ceil((Date.now() - start) / (7 * DAY_MS)) + 1));
  const [timeline, heatmap, weekly, months] = await Promise.all([
    api(`/timeline?${span}`), api(`/heatmap?${span}`), api(`/trends/weekly?weeks=${weeks}`), api("/trends/months"),
  ]);
  const total = timeline.points.reduce((sum, p) => sum + p.sent + p.received, 0);
  document.getElementById("history-total").textContent = `total ${fmt.bytes(total)}`;
  await Promise.all([
    Plotly.react("history-timeline", timelineTraces(timeline.points), timelineLayout(timeline.bucket_ms), PLOT_CONFIG),
    drawHeatmap(heatmap.bytes),
    drawWeekly(weekly.filter((week) => week.start_ms < end && week.start_ms + 7 * DAY_MS > start)),
    drawMonths(months),
  ]);
}

function drawHeatmap(bytes) {
  const trace = {
    type: "heatmap", z: bytes, x: [...Array(24).keys()], y: WEEKDAYS, colorscale: "YlOrRd", reversescale: true,
    hovertemplate: "%{y} %{x}:00<br>%{z:.3s}B<extra></extra>", colorbar: { tickformat: ".2s", thickness: 12 },
  };
  const layout = { ...LAYOUT, yaxis: { autorange: "reversed" }, xaxis: { title: { text: "hour of day (local)" }, dtick: 2 } };
  return Plotly.react("heatmap", [trace], layout, PLOT_CONFIG);
}

function drawWeekly(weeks) {
  const x = weeks.map((week) => new Date(week.start_ms));
  const trace = (direction) => ({ type: "bar", name: direction, x, y: weeks.map((w) => w[direction]), marker: { color: COLORS[direction] } });
  const layout = { ...LAYOUT, barmode: "stack", yaxis: { tickformat: ".2s", title: { text: "bytes per week" } }, legend: { orientation: "h", y: 1.12 } };
  return Plotly.react("weekly", [trace("received"), trace("sent")], layout, PLOT_CONFIG);
}

function drawMonths(months) {
  const x = ["last month", "last month<br>to date", "this month"];
  const periods = [months.previous_month, months.previous_month_to_date, months.this_month];
  const trace = (direction) => ({ type: "bar", name: direction, x, y: periods.map((p) => p[direction]), marker: { color: COLORS[direction] } });
  const layout = { ...LAYOUT, barmode: "stack", margin: { ...LAYOUT.margin, b: 45 }, xaxis: { tickangle: 0 }, yaxis: { tickformat: ".2s" }, legend: { orientation: "h", y: 1.12 } };
  return Plotly.react("months", [trace("received"), trace("sent")], layout, PLOT_CONFIG);
}
