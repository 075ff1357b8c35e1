/* Configuration: status, pause/resume, every config.json key (validated by the server) with its
 * explanation, unit and allowed values from the API's schema (/api/openapi.json), purge. */

import { api, fmt, escapeHtml } from "../lib.js";

let current = {};
/** The schema of each option (description, x-unit, x-allowed, enum), read once. */
let schema;

export function mount() {
  document.getElementById("config-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save().catch(() => {});
  });
  document.getElementById("pause").addEventListener("click", () => togglePause().catch(() => {}));
  document.getElementById("purge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    askPurge();
  });
  document.getElementById("purge-no").addEventListener("click", () => { document.getElementById("purge-confirm").hidden = true; });
  document.getElementById("purge-yes").addEventListener("click", () => purge().catch(() => {}));
}

export async function show() {
  const [, config] = await Promise.all([loadStatus(), api("/config"), loadSchema()]);
  current = config;
  await renderFields(config);
}

function duration(seconds) {
  const parts = [[Math.floor(seconds / 86400), "d"], [Math.floor(seconds / 3600) % 24, "h"], [Math.floor(seconds / 60) % 60, "min"], [seconds % 60, "s"]];
  return parts.filter(([n], i) => n > 0 || i === 3).map(([n, unit]) => `${n} ${unit}`).join(" ");
}

async function loadStatus() {
  const status = await api("/status");
  const facts = [
    ["Capture source", status.capture_source],
    ["Privileges", status.privileged ? "root (packet capture allowed)" : "not root — packet capture needs root"],
    ["Monitoring", status.paused ? "paused" : "running"],
    ["Uptime", duration(status.uptime_seconds)],
    ["Samples taken", status.samples.toLocaleString()],
    ["Packets dropped", status.dropped_packets ? `${status.dropped_packets.toLocaleString()} — the capture fell behind; figures since start are short` : "none"],
    ["Database size", status.database_bytes === null || status.database_bytes === undefined ? "no database" : fmt.bytes(status.database_bytes)],
    ["Last error", status.last_error || "none"],
    ["Version", status.version],
  ];
  document.getElementById("status").innerHTML = facts.map(([k, v]) => `<dt>${k}</dt><dd data-fact="${k}">${escapeHtml(v)}</dd>`).join("");
  document.getElementById("pause").textContent = status.paused ? "Resume monitoring" : "Pause monitoring";
  document.getElementById("pause").dataset.paused = String(status.paused);
}

async function togglePause() {
  const paused = document.getElementById("pause").dataset.paused === "true";
  await api(`/monitoring/${paused ? "resume" : "pause"}`, { method: "POST", body: {} });
  await loadStatus();
}

async function loadSchema() {
  schema ??= api("/openapi.json").then((document) => document.components.schemas.ConfigDocument.properties);
  return schema;
}

function input(key, value, property) {
  const name = `name="${key}" id="config-${key}"`;
  if (typeof value === "boolean") return `<input type="checkbox" ${name} ${value ? "checked" : ""}>`;
  if (property.enum) {
    return `<select ${name}>${property.enum.map((choice) => `<option ${choice === value ? "selected" : ""}>${choice}</option>`).join("")}</select>`;
  }
  const text = Array.isArray(value) ? value.join(", ") : String(value);
  return `<input type="text" ${name} value="${escapeHtml(text)}" spellcheck="false">`;
}

/** One line under an option: what it does, its unit, what is allowed. */
function help(property) {
  const unit = property["x-unit"] ? ` · in ${property["x-unit"]}` : "";
  const allowed = property["x-allowed"] ? ` · ${property["x-allowed"]}` : "";
  return `${property.description || ""}${unit}${allowed}`;
}

async function renderFields(config) {
  const properties = await loadSchema();
  document.getElementById("config-fields").innerHTML = Object.entries(config)
    .map(([key, value]) => {
      const property = properties[key] || {};
      return `<label class="field"><span>${key}</span>${input(key, value, property)}<small class="help" data-help="${key}">${escapeHtml(help(property))}</small><small class="problem" data-problem="${key}"></small></label>`;
    })
    .join("");
}

/** The form's value of `key`, typed like its current value (numbers stay as typed when invalid). */
function formValue(key) {
  const element = document.getElementById(`config-${key}`);
  const old = current[key];
  if (typeof old === "boolean") return element.checked;
  if (Array.isArray(old)) return element.value.split(",").map((s) => s.trim()).filter(Boolean);
  if (typeof old === "number") {
    const number = Number(element.value.trim());
    return element.value.trim() !== "" && Number.isFinite(number) ? number : element.value;
  }
  return element.value;
}

async function save() {
  const changes = Object.fromEntries(
    Object.keys(current).map((key) => [key, formValue(key)]).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(current[key])),
  );
  const result = document.getElementById("config-result");
  document.querySelectorAll("[data-problem]").forEach((el) => { el.textContent = ""; });
  if (Object.keys(changes).length === 0) {
    result.className = "";
    result.textContent = "nothing changed";
    return;
  }
  try {
    const answer = await api("/config", { method: "PUT", body: changes });
    current = answer.config;
    await renderFields(current);
    result.className = "ok";
    const restart = answer.restart_required.length ? ` — restart netmon for ${answer.restart_required.join(", ")} to take effect` : "";
    const keys = Object.keys(changes);
    const live = keys.filter((key) => !answer.restart_required.includes(key));
    const applied = live.length ? ` (applied at once: ${live.join(", ")})` : "";
    result.textContent = `saved ${keys.join(", ")}${applied}${restart}`;
  } catch (error) {
    result.className = "bad";
    result.textContent = `not saved: ${error.message}`;
    (error.problems || []).forEach((problem) => {
      const key = Object.keys(current).find((k) => problem.includes(`"${k}"`));
      const slot = key && document.querySelector(`[data-problem="${key}"]`);
      if (slot) slot.textContent = problem;
    });
  }
}

function purgeBefore() {
  const what = document.querySelector("input[name=purge-what]:checked").value;
  return what === "before" ? document.getElementById("purge-before").value : null;
}

function askPurge() {
  const before = purgeBefore();
  const result = document.getElementById("purge-result");
  result.textContent = "";
  if (before === "") {
    result.className = "bad";
    result.textContent = "choose a date first";
    return;
  }
  document.getElementById("purge-question").textContent = before
    ? `Delete all history before ${before}? This cannot be undone.`
    : "Delete ALL history? This cannot be undone.";
  document.getElementById("purge-confirm").hidden = false;
}

async function purge() {
  document.getElementById("purge-confirm").hidden = true;
  const result = document.getElementById("purge-result");
  try {
    const answer = await api("/purge", { method: "POST", body: { before: purgeBefore() } });
    result.className = "ok";
    result.textContent = `deleted ${answer.rows_deleted.toLocaleString()} rows`;
    await loadStatus();
  } catch (error) {
    result.className = "bad";
    result.textContent = `not purged: ${error.message}`;
  }
}
