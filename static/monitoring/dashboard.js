// The network dashboard's live figures: one WebSocket to /monitoring/ws/dashboard/, whose messages
// ({"type": "snapshot", "sites": [...]} then {"type": "site", "site": {...}}) rewrite the site rows.
"use strict";

(function () {
  const root = document.querySelector("[data-socket-path]");
  if (!root) return;
  const state = document.getElementById("live-state");
  const updated = document.getElementById("live-updated");
  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const formats = {
    power_w: (w) => (w >= 1000 ? number.format(w / 1000) + " kW" : number.format(w) + " W"),
    energy_today_wh: (wh) => (wh >= 1000 ? number.format(wh / 1000) + " kWh" : number.format(wh) + " Wh"),
  };
  const flags = { offline: "warn", faulted: "bad" };
  let delay = 1000;

  function show(text, name) {
    state.textContent = text;
    state.dataset.state = name;
  }

  function apply(site) {
    const row = document.querySelector(`tr[data-site-id="${site.site_id}"]`);
    if (!row) return;
    for (const cell of row.querySelectorAll("[data-field]")) {
      const field = cell.dataset.field;
      if (!(field in site)) continue;
      const value = site[field];
      const text = formats[field] ? formats[field](value) : String(value);
      if (cell.textContent !== text) {
        cell.textContent = text;
        cell.dataset.value = value;
        cell.classList.remove("changed");
        void cell.offsetWidth; // restart the highlight
        cell.classList.add("changed");
      }
      if (flags[field]) cell.classList.toggle(flags[field], value > 0);
    }
    updated.textContent = "updated " + new Date().toLocaleTimeString();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + root.dataset.socketPath);
    socket.onopen = () => {
      delay = 1000;
      show("Live", "live");
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") message.sites.forEach(apply);
      else if (message.type === "site") apply(message.site);
    };
    socket.onclose = () => {
      show("Reconnecting…", "reconnecting");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  // Server-rendered figures get the same units as pushed ones.
  for (const cell of document.querySelectorAll("[data-field][data-value]")) {
    const format = formats[cell.dataset.field];
    if (format) cell.textContent = format(Number(cell.dataset.value));
  }
  connect();
})();
