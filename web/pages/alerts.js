/* Alerts & budgets: budgets with their progress (create, edit, delete), and the alert history,
 * to which alerts from /api/alerts/live are added as they are raised. */

import { api, fmt, dataTable, timeCell, escapeHtml, showError } from "../lib.js";

let setAlerts;
let alerts = [];
let editing = null;

const GB = 1e9;

export function mount() {
  setAlerts = dataTable(document.getElementById("alert-table"), {
    columns: [
      { key: "at_ms", label: "When", num: true, render: timeCell },
      { key: "kind", label: "Kind" },
      { key: "subject", label: "About" },
      { key: "message", label: "Alert" },
    ],
    sortKey: "at_ms",
    csvButton: document.getElementById("alert-table-csv"),
    csvName: "netmon-alerts.csv",
    empty: "no alerts yet",
  });
  const form = document.getElementById("budget-form");
  const scope = document.getElementById("budget-scope");
  const period = document.getElementById("budget-period");
  const toggle = () => {
    document.getElementById("budget-name").disabled = scope.value === "all";
    document.getElementById("budget-first-day").disabled = period.value !== "month";
  };
  scope.addEventListener("change", toggle);
  period.addEventListener("change", toggle);
  toggle();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save().catch(showError);
  });
  document.getElementById("budget-cancel").addEventListener("click", () => resetForm());
  document.getElementById("budget-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = Number(button.dataset.id);
    const action = button.dataset.action === "delete" ? remove(id) : edit(id);
    action.catch(showError);
  });
}

export async function show() {
  await Promise.all([loadBudgets(), loadAlerts()]);
}

/** The budget the form describes, as the API takes it. */
function request() {
  const value = (id) => document.getElementById(id).value.trim();
  const scope = value("budget-scope");
  const body = {
    scope,
    period: value("budget-period"),
    limit_bytes: Math.round(Number(value("budget-limit")) * GB),
  };
  if (scope !== "all") body.name = value("budget-name");
  if (body.period === "month") body.month_start_day = Number(value("budget-first-day") || 1);
  return body;
}

async function save() {
  const result = document.getElementById("budget-result");
  try {
    const path = editing === null ? "/budgets" : `/budgets/${editing}`;
    await api(path, { method: editing === null ? "POST" : "PUT", body: request() });
    result.textContent = editing === null ? "budget added" : "budget changed";
    result.className = "ok";
    resetForm();
  } catch (error) {
    result.textContent = error.problems?.length ? error.problems.join("; ") : error.message;
    result.className = "bad";
  }
  await loadBudgets();
}

function resetForm() {
  editing = null;
  document.getElementById("budget-form").reset();
  document.getElementById("budget-submit").textContent = "Add budget";
  document.getElementById("budget-cancel").hidden = true;
  document.getElementById("budget-scope").dispatchEvent(new Event("change"));
}

async function edit(id) {
  const budget = (await api("/budgets")).find((b) => b.id === id);
  if (!budget) return;
  editing = id;
  const set = (field, value) => { document.getElementById(field).value = value; };
  set("budget-scope", budget.scope);
  set("budget-name", budget.name || "");
  set("budget-period", budget.period);
  set("budget-limit", String(budget.limit_bytes / GB));
  set("budget-first-day", String(budget.month_start_day));
  document.getElementById("budget-submit").textContent = "Save budget";
  document.getElementById("budget-cancel").hidden = false;
  document.getElementById("budget-scope").dispatchEvent(new Event("change"));
}

async function remove(id) {
  await api(`/budgets/${id}`, { method: "DELETE", body: {} });
  if (editing === id) resetForm();
  await loadBudgets();
}

const PERIODS = { day: "per day", week: "per week", month: "per month" };

function budgetRow(budget) {
  const { progress } = budget;
  const percent = Math.min(100, progress.percent);
  const level = progress.percent >= 100 ? "over" : progress.percent >= 80 ? "near" : "";
  const first = budget.period === "month" && budget.month_start_day !== 1 ? ` from day ${budget.month_start_day}` : "";
  return `<li class="budget" data-id="${budget.id}">
    <div class="budget-head"><strong>${escapeHtml(budget.name || "everything")}</strong>
      <span class="muted-dark">${PERIODS[budget.period]}${first}</span>
      <button type="button" data-action="edit" data-id="${budget.id}">Edit</button>
      <button type="button" class="danger" data-action="delete" data-id="${budget.id}">Delete</button></div>
    <div class="bar ${level}" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${Math.round(progress.percent)}">
      <span style="width: ${percent}%"></span></div>
    <div class="budget-numbers">${fmt.bytes(progress.used_bytes)} of ${fmt.bytes(progress.limit_bytes)}
      (${progress.percent.toFixed(1)} %) · projected ${fmt.bytes(progress.projected_bytes)}</div>
  </li>`;
}

async function loadBudgets() {
  const budgets = await api("/budgets");
  const list = document.getElementById("budget-list");
  list.innerHTML = budgets.length ? budgets.map(budgetRow).join("") : `<li class="empty">no budgets yet</li>`;
}

async function loadAlerts() {
  alerts = await api("/alerts?limit=200");
  setAlerts(alerts);
}

/** An alert from /api/alerts/live: into the history at once, and the budgets' bars refreshed. */
export function live(alert) {
  if (!setAlerts || alerts.some((known) => known.id === alert.id)) return;
  alerts = [alert, ...alerts];
  setAlerts(alerts);
  loadBudgets().catch(() => {});
}
