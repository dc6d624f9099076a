// The network dashboard's live figures: one WebSocket to /monitoring/ws/dashboard/, whose messages
// ({"type": "snapshot", "sites": [...]} then {"type": "site", "site": {...}}) rewrite the site rows and,
// from each site's "today" figures, the last (today's) bar of the per-day charts. At the first of the
// sites' midnights the page reloads, for the new day's rows and bar.
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
  const today = new Map(); // site id -> {day, energy_wh, busy_s, capacity_s}, that site's local today
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
    if (site.today) {
      today.set(site.site_id, site.today);
      redrawToday();
    }
    updated.textContent = "updated " + new Date().toLocaleTimeString();
  }

  // As stations/monitoring/charts.py: the smallest of 1, 2, 2.5, 5, 10 times a power of ten above `value`.
  function niceTop(value) {
    if (value <= 0) return 1;
    const magnitude = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
    return 10 * magnitude;
  }

  function barPlace(svg, rect, value) {
    const top = Number(svg.dataset.top);
    const baseline = Number(svg.dataset.baseline);
    const height = ((baseline - Number(svg.dataset.plotTop)) * Math.min(value, top)) / top;
    rect.setAttribute("y", (baseline - height).toFixed(2));
    rect.setAttribute("height", height.toFixed(2)); // finer than the server: a few Wh still show
    rect.dataset.value = value;
  }

  function barSet(svg, rect, value) {
    if (value > Number(svg.dataset.top)) {
      // Today outgrew the scale: a new round top for every bar and tick, as the server would draw it.
      const top = niceTop(value);
      svg.dataset.top = top;
      svg.querySelectorAll("text.csms-tick").forEach((tick, k) => {
        tick.textContent = String(Number(((top * k) / 4).toPrecision(6)));
      });
      for (const other of svg.querySelectorAll("rect.csms-bar")) barPlace(svg, other, Number(other.dataset.value));
    }
    barPlace(svg, rect, value);
    const title = rect.querySelector("title");
    const day = title.textContent.split(": ")[0];
    title.textContent = `${day}: ${value.toFixed(Number(svg.dataset.digits))} ${svg.dataset.unit}`;
  }

  // Today's bar adds up the sites whose local today is that bar's day, as the server's daily figures do.
  function redrawToday() {
    for (const svg of document.querySelectorAll("svg[data-chart]")) {
      const bars = svg.querySelectorAll("rect.csms-bar");
      if (!bars.length) continue;
      const last = bars[bars.length - 1];
      const figures = [...today.values()].filter((t) => t.day === last.dataset.day);
      if (!figures.length) continue; // the page's last day is over: the rollover reload draws the new one
      const sum = (key) => figures.reduce((total, t) => total + t[key], 0);
      const capacity = sum("capacity_s");
      const value =
        svg.dataset.chart === "energy"
          ? sum("energy_wh") / 1000
          : capacity > 0
            ? 100 * Math.min(sum("busy_s") / capacity, 1)
            : 0;
      if (Number(last.dataset.value) !== value) barSet(svg, last, value);
    }
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
  if (root.dataset.rolloverInS) setTimeout(() => location.reload(), Number(root.dataset.rolloverInS) * 1000);
})();
