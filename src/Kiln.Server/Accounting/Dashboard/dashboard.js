// The Kiln dashboard: renders each snapshot the node streams on /api/events (server-sent events).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MiB";
    return (n / 1073741824).toFixed(2) + " GiB";
  }

  function seconds(ms) { return (ms / 1000).toFixed(1); }

  function fill(tbody, rows, empty, columns) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = text("td", empty, "empty");
      td.colSpan = columns;
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    for (const row of rows) tbody.appendChild(row);
  }

  function row(cells, attributes) {
    const tr = document.createElement("tr");
    for (const [name, value] of Object.entries(attributes || {})) tr.setAttribute(name, value);
    for (const c of cells) tr.appendChild(Array.isArray(c) ? text("td", c[0], c[1]) : text("td", c));
    return tr;
  }

  function totalsRow(t, key, value) {
    return row([value, [String(t.jobs), "num jobs"], [seconds(t.cpuMs), "num cpu"], [bytes(t.bytesIn), "num bytes-in"], [bytes(t.bytesOut), "num bytes-out"]],
      { [key]: value, "data-jobs": t.jobs, "data-cpu-ms": t.cpuMs, "data-bytes-in": t.bytesIn, "data-bytes-out": t.bytesOut });
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attributes) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
    return el;
  }

  function lineChart(target, points) {
    target.replaceChildren();
    if (points.length < 2) return;
    const w = 600, h = 120, step = w / (points.length - 1);
    const maxJobs = Math.max(1, ...points.map((p) => p.jobs));
    let rate = "", jobs = "";
    points.forEach((p, i) => {
      const answered = p.hits + p.misses;
      const r = answered === 0 ? 0 : p.hits / answered;
      rate += (i ? " L" : "M") + (i * step).toFixed(1) + " " + (h - 4 - r * (h - 8)).toFixed(1);
      jobs += (i ? " L" : "M") + (i * step).toFixed(1) + " " + (h - 4 - (p.jobs / maxJobs) * (h - 8)).toFixed(1);
    });
    target.appendChild(svg("path", { d: jobs, fill: "none", stroke: "#d29922", "stroke-width": 1.5 }));
    target.appendChild(svg("path", { d: rate, fill: "none", stroke: "#2f81f7", "stroke-width": 2 }));
  }

  function barChart(target, items) {
    target.replaceChildren();
    const max = Math.max(1, ...items.map((i) => i.value));
    const width = 300 / Math.max(1, items.length);
    items.forEach((item, i) => {
      const height = (item.value / max) * 80;
      target.appendChild(svg("rect", { x: i * width + 4, y: 84 - height, width: Math.max(1, width - 8), height: height, fill: "#2f81f7" }));
      const label = svg("text", { x: i * width + 6, y: 97, "font-size": 10 });
      label.textContent = item.label;
      target.appendChild(label);
    });
  }

  function render(s) {
    const a = s.accounting;
    $("node-name").textContent = s.node;
    $("sequence").textContent = String(s.sequence);
    $("clock").textContent = new Date(s.timeMs).toLocaleTimeString();
    $("running-count").textContent = String(s.running.length);
    $("recorded").textContent = String(a.byNode.reduce((sum, t) => sum + t.jobs, 0));
    $("refused").textContent = String(a.refusals.reduce((sum, r) => sum + r.count, 0));
    const hits = s.hitRate.reduce((sum, p) => sum + p.hits, 0), misses = s.hitRate.reduce((sum, p) => sum + p.misses, 0);
    $("hit-rate").textContent = hits + misses === 0 ? "–" : Math.round((100 * hits) / (hits + misses)) + "%";

    const now = s.timeMs;
    fill($("nodes"), s.nodes.map((n) => row([n.name, [String(n.slots), "num"], [String(n.freeSlots), "num"], [String(n.running), "num"],
      [n.load.toFixed(2), "num"], ((now - n.seenMs) / 1000).toFixed(0) + " s ago"], { "data-node": n.name })), "no nodes", 6);
    fill($("users"), a.byUser.map((t) => totalsRow(t, "data-user", t.identity)), "no jobs yet", 5);
    fill($("by-node"), a.byNode.map((t) => totalsRow(t, "data-node", t.node)), "no jobs yet", 5);
    fill($("running"), s.running.map((j) => row([String(j.id), j.identity, j.address, j.frontEnd, j.compiler, j.source,
      j.queued ? "queued" : ((now - j.startedMs) / 1000).toFixed(1) + " s"])), "nothing running", 7);
    fill($("recent"), s.recent.map((j) => row([String(j.id), j.identity, j.source,
      j.refusal ? [j.refusal, "fail"] : j.exitCode === 0 ? "ok" : ["exit " + j.exitCode, "fail"],
      [String(j.queueMs), "num"], [String(j.cpuMs), "num"], [String(j.wallMs), "num"], [bytes(j.bytesIn), "num"], [bytes(j.bytesOut), "num"]])), "no jobs yet", 9);
    fill($("refusals"), a.refusals.map((r) => row([r.reason, [String(r.count), "num"]], { "data-reason": r.reason })), "none", 2);
    fill($("contested"), s.contested.map((c) => row([c.actionKey.slice(0, 16) + "…", String(c.resultDigests.length), c.signers.join(", ")])),
      "none: no two builders disagree", 3);
    lineChart($("hitrate"), s.hitRate);
    barChart($("cpu-users"), a.byUser.map((t) => ({ label: t.identity, value: t.cpuMs })));
    barChart($("bytes-nodes"), a.byNode.map((t) => ({ label: t.node, value: t.bytesIn + t.bytesOut })));
    document.body.setAttribute("data-sequence", String(s.sequence));
    document.body.setAttribute("data-time", String(s.timeMs));
  }

  const events = new EventSource("/api/events");
  events.onopen = () => { $("connection").textContent = "live"; $("connection").className = "up"; };
  events.onerror = () => { $("connection").textContent = "reconnecting"; $("connection").className = "down"; };
  events.onmessage = (e) => render(JSON.parse(e.data));
})();
