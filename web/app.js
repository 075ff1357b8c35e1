/* The dashboard: a hash router over six pages, reading only the JSON API and the SSE stream. */

import { loadPlotly, route, showError } from "./lib.js";
import * as overview from "./pages/overview.js";
import * as apps from "./pages/apps.js";
import * as domains from "./pages/domains.js";
import * as connections from "./pages/connections.js";
import * as history from "./pages/history.js";
import * as config from "./pages/config.js";

const PAGES = { overview, apps, domains, connections, history, config };
/** Pages without charts, shown without waiting for Plotly.js. */
const WITHOUT_CHARTS = new Set(["config", "connections"]);
const mounted = new Set();

/** Shows the page the URL names and (re)loads it; `data-ready` names it once it is drawn. */
async function show() {
  const { page, params } = route();
  const name = PAGES[page] ? page : "overview";
  document.body.dataset.ready = "";
  document.querySelectorAll(".page").forEach((section) => { section.hidden = section.id !== `page-${name}`; });
  document.querySelectorAll("nav a").forEach((link) => link.classList.toggle("active", link.dataset.page === name));
  const module = PAGES[name];
  try {
    if (!WITHOUT_CHARTS.has(name)) await loadPlotly();
    if (!mounted.has(name)) {
      module.mount();
      mounted.add(name);
    }
    await module.show(params);
  } catch (error) {
    showError(error);
  }
  window.dispatchEvent(new Event("resize"));
  document.body.dataset.ready = name;
  document.body.dataset.readyMs = String(Math.round(performance.now()));
}

function watchLive() {
  const status = document.getElementById("live-status");
  const events = new EventSource("/api/live");
  events.onmessage = (event) => {
    const live = JSON.parse(event.data);
    const fmt = globalThis.NetmonFormat;
    const top = live.apps[0] ? ` · busiest: ${live.apps[0].app}` : "";
    status.textContent = `live: ↓ ${fmt.rate(live.received_bytes_per_second)} ↑ ${fmt.rate(live.sent_bytes_per_second)}${top}`;
    overview.live(live);
  };
  events.onerror = () => { status.textContent = "live feed lost; retrying…"; };
}

window.addEventListener("hashchange", show);
watchLive();
show();
