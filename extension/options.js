"use strict";

/* global browser, chrome, NetmonLogic */
const ext = typeof browser !== "undefined" ? browser : chrome;
const input = document.getElementById("port");
const status = document.getElementById("status");

ext.storage.local.get("port").then(({ port }) => {
  input.value = String(NetmonLogic.validPort(port));
});

document.getElementById("save").addEventListener("click", async () => {
  const port = NetmonLogic.validPort(input.value, null);
  if (port === null) {
    status.textContent = "Choose a port from 7000 to 7999 (netmon's web_server_port).";
    return;
  }
  await ext.storage.local.set({ port });
  status.textContent = `Saved: reporting to 127.0.0.1:${port}.`;
});
