// Tsubame admin console. Plain JS, no external fetches: every request goes to
// this server's own /api/v1/. All broker-supplied strings (client ids, topics,
// user names) are inserted with textContent, never as HTML.
(function () {
  "use strict";

  var API = "/api/v1/";
  var views = ["overview", "connectors", "clients", "topics", "retained"];
  var timer = null;
  var state = {
    clients: { page: 1, filter: {} },
    topics: { page: 1, filter: {} },
    retained: { page: 1, filter: {} }
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function status(msg, err) {
    var s = $("status");
    s.textContent = msg;
    s.className = err ? "status err" : "status";
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== "" && v !== undefined && v !== null) parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function api(path, opts) {
    return fetch(API + path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, opts || {}))
      .then(function (r) {
        if (r.status === 204) return null;
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) throw new Error(r.status + " " + (body.error || r.statusText));
          return body;
        });
      });
  }

  function fmtNum(n) {
    if (n === undefined || n === null) return "-";
    if (typeof n === "number" && !Number.isInteger(n)) n = Math.round(n * 10) / 10;
    return Number(n).toLocaleString();
  }

  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
  }

  function fmtDuration(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (s % 60) + "s";
    return s + "s";
  }

  function fmtSince(iso) {
    var t = Date.parse(iso);
    if (!t || t < 0) return "-";
    return fmtDuration((Date.now() - t) / 1000) + " ago";
  }

  function button(text, cls, onclick) {
    var b = el("button", text, cls);
    b.type = "button";
    b.addEventListener("click", function (ev) { ev.stopPropagation(); onclick(); });
    return b;
  }

  function fillTable(id, rows, build, empty) {
    var tbody = $(id).tBodies[0];
    tbody.textContent = "";
    if (!rows.length) {
      var tr = el("tr"), td = el("td", empty || "nothing here", "muted");
      td.colSpan = $(id).tHead.rows[0].cells.length;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    rows.forEach(function (r) {
      var tr = el("tr");
      build(r).forEach(function (c) {
        var td = el("td");
        if (c instanceof Node) td.appendChild(c); else td.textContent = c;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    return tbody;
  }

  function pager(id, page, reload) {
    var p = $(id);
    p.textContent = "";
    var pages = Math.max(1, Math.ceil(page.total / page.per_page));
    var prev = button("\u2039 prev", "", function () { reload(page.page - 1); });
    var next = button("next \u203a", "", function () { reload(page.page + 1); });
    prev.disabled = page.page <= 1;
    next.disabled = page.page >= pages;
    p.appendChild(prev);
    p.appendChild(el("span", "page " + page.page + " of " + pages + " (" + fmtNum(page.total) + " total)"));
    p.appendChild(next);
  }

  // ---- overview and chart ----

  function card(k, v) {
    var c = el("div", null, "card");
    c.appendChild(el("div", k, "k"));
    c.appendChild(el("div", v, "v"));
    return c;
  }

  function loadOverview() {
    return Promise.all([api("overview"), api("rates")]).then(function (res) {
      var o = res[0], r = o.rates, cards = $("cards");
      cards.textContent = "";
      [
        ["Version", o.version], ["Uptime", fmtDuration(o.uptime_seconds)],
        ["Connections", fmtNum(o.connections)], ["Max connections", fmtNum(o.connections_max)],
        ["Sessions", fmtNum(o.sessions)], ["Subscriptions", fmtNum(o.subscriptions)],
        ["Retained", fmtNum(o.retained)], ["Inflight / queued", fmtNum(o.inflight) + " / " + fmtNum(o.queued)],
        ["In msg/s (1s / 1m)", fmtNum(r.in_1s) + " / " + fmtNum(r.in_1m)],
        ["Out msg/s (1s / 1m)", fmtNum(r.out_1s) + " / " + fmtNum(r.out_1m)],
        ["Received", fmtNum(o.messages_received)], ["Sent", fmtNum(o.messages_sent)],
        ["Dropped", fmtNum(o.messages_dropped)],
        ["Bytes in / out", fmtBytes(o.bytes_in) + " / " + fmtBytes(o.bytes_out)],
        ["Heap", fmtBytes(o.memory.heap_bytes)], ["Go memory", fmtBytes(o.memory.total_bytes)]
      ].forEach(function (kv) { cards.appendChild(card(kv[0], kv[1])); });
      drawChart(res[1].points || []);
    });
  }

  function drawChart(points) {
    var c = $("chart"), dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth || 900, h = c.clientHeight || 260;
    c.width = w * dpr; c.height = h * dpr;
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var left = 56, right = 10, top = 10, bottom = 24;
    var pw = w - left - right, ph = h - top - bottom;
    var now = Date.now(), span = 300 * 1000;
    var max = 1;
    points.forEach(function (p) { max = Math.max(max, p.in, p.out); });
    max = niceCeil(max);

    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#5d6b80";
    g.strokeStyle = "#e6eaf0";
    g.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = top + ph - ph * i / 4;
      g.beginPath(); g.moveTo(left, y + 0.5); g.lineTo(left + pw, y + 0.5); g.stroke();
      g.textAlign = "right"; g.textBaseline = "middle";
      g.fillText(fmtNum(max * i / 4), left - 6, y);
    }
    g.textAlign = "center"; g.textBaseline = "top";
    for (var m = 0; m <= 5; m++) {
      var x = left + pw - pw * m / 5;
      g.fillText(m === 0 ? "now" : "-" + m + "m", x, top + ph + 6);
    }
    function line(key, color) {
      g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
      var started = false;
      points.forEach(function (p) {
        var x = left + pw - pw * (now - p.t) / span;
        if (x < left) return;
        var y = top + ph - ph * p[key] / max;
        if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
      });
      g.stroke();
    }
    line("in", "#2b7de9");
    line("out", "#e9812b");
  }

  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v))), n = v / p;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * p;
  }

  // ---- connectors ----

  function loadConnectors() {
    return api("listeners").then(function (res) {
      fillTable("listeners", res.items, function (l) {
        return [l.name, l.type, l.address, l.tls ? "yes" : "no", fmtNum(l.connections), fmtNum(l.connections_total),
          button("show clients", "", function () {
            state.clients.filter = { listener: l.name };
            state.clients.page = 1;
            document.forms["client-filter"].elements.listener.value = l.name;
            location.hash = "#clients";
          })];
      }, "no listeners");
    });
  }

  // ---- clients ----

  function loadClients(page) {
    var st = state.clients;
    if (page) st.page = page;
    var params = Object.assign({ page: st.page }, st.filter);
    return api("clients" + query(params)).then(function (res) {
      var tbody = fillTable("clients", res.items, function (c) {
        return [c.id, c.user || "-", c.remote_addr || "-", c.listener, protoName(c.protocol_level), c.keepalive + "s",
          c.connected ? fmtSince(c.connected_at) : el("span", "offline", "off"),
          c.clean_start ? "clean" : "persistent", fmtNum(c.subscriptions), fmtNum(c.inflight), fmtNum(c.queued),
          fmtNum(c.messages_in) + " / " + fmtNum(c.messages_out), fmtBytes(c.bytes_in) + " / " + fmtBytes(c.bytes_out),
          c.connected ? button("kick", "danger", function () { kick(c.id); }) : ""];
      }, "no clients match");
      if (tbody && res.items.length) {
        Array.prototype.forEach.call(tbody.rows, function (tr, i) {
          tr.className = "click";
          tr.addEventListener("click", function () { showClient(res.items[i].id); });
        });
      }
      pager("clients-pager", res, loadClients);
    });
  }

  function protoName(level) {
    return { 3: "3.1", 4: "3.1.1", 5: "5.0" }[level] || String(level);
  }

  function kick(id) {
    if (!window.confirm("Disconnect client " + id + "?")) return;
    api("clients/" + encodeURIComponent(id), { method: "DELETE" })
      .then(function () { status("kicked " + id); return loadClients(); })
      .catch(function (e) { status(e.message, true); });
  }

  function showClient(id) {
    api("clients/" + encodeURIComponent(id)).then(function (c) {
      var d = $("client-detail");
      d.textContent = "";
      d.hidden = false;
      d.appendChild(el("h2", "Client " + c.id));
      d.appendChild(el("p", "session expiry " + c.session_expiry + "s, " + (c.connected ? "connected" : "offline")));
      var t = el("table"), head = el("tr");
      ["Filter", "Shared group", "QoS", "No local", "Retain as published", "Retain handling", "Id"].forEach(function (h) { head.appendChild(el("th", h)); });
      var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
      var tb = el("tbody");
      c.subscription_list.forEach(function (s) {
        var tr = el("tr");
        [s.filter, s.group || "-", s.qos, s.no_local ? "yes" : "no", s.retain_as_published ? "yes" : "no", s.retain_handling, s.identifier || "-"]
          .forEach(function (v) { tr.appendChild(el("td", v)); });
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      d.appendChild(t);
    }).catch(function (e) { status(e.message, true); });
  }

  // ---- topics ----

  function loadTopics(page) {
    var st = state.topics;
    if (page) st.page = page;
    return api("topics" + query(Object.assign({ page: st.page }, st.filter))).then(function (res) {
      fillTable("topics", res.items, function (t) {
        var consumers = el("span", (t.consumers || []).join(", ") || "-");
        if (t.consumers && t.consumers.length < t.subscribers) consumers.textContent += " \u2026";
        return [t.group ? "$share/" + t.group + "/" + t.filter : t.filter, t.group || "-", fmtNum(t.subscribers), consumers];
      }, "no subscriptions");
      pager("topics-pager", res, loadTopics);
    });
  }

  // ---- retained ----

  function loadRetained(page) {
    var st = state.retained;
    if (page) st.page = page;
    return api("retained" + query(Object.assign({ page: st.page }, st.filter))).then(function (res) {
      fillTable("retained", res.items, function (m) {
        return [m.topic, fmtBytes(m.size), m.qos, fmtDuration(m.age_seconds),
          button("delete", "danger", function () { deleteRetained(m.topic); })];
      }, "no retained messages");
      pager("retained-pager", res, loadRetained);
    });
  }

  function deleteRetained(topic) {
    if (!window.confirm("Delete the retained message on " + topic + "?")) return;
    api("retained" + query({ topic: topic }), { method: "DELETE" })
      .then(function () { status("deleted " + topic); return loadRetained(); })
      .catch(function (e) { status(e.message, true); });
  }

  // ---- navigation ----

  var loaders = { overview: loadOverview, connectors: loadConnectors, clients: loadClients, topics: loadTopics, retained: loadRetained };
  var refresh = { overview: 1000, connectors: 2000, clients: 5000, topics: 5000, retained: 10000 };

  function show() {
    var v = location.hash.slice(1);
    if (views.indexOf(v) < 0) v = "overview";
    views.forEach(function (name) { $("view-" + name).hidden = name !== v; });
    Array.prototype.forEach.call($("nav").querySelectorAll("a"), function (a) {
      a.className = a.getAttribute("data-view") === v ? "active" : "";
    });
    if (timer) clearInterval(timer);
    function tick() {
      loaders[v]().then(function () { status("updated " + new Date().toLocaleTimeString()); })
        .catch(function (e) { status(e.message, true); });
    }
    tick();
    timer = setInterval(tick, refresh[v]);
  }

  function bindFilter(formId, key) {
    document.forms[formId].addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = {};
      Array.prototype.forEach.call(ev.target.elements, function (e) { if (e.name && e.value) f[e.name] = e.value; });
      state[key].filter = f;
      state[key].page = 1;
      loaders[key]().catch(function (e) { status(e.message, true); });
    });
  }

  ["client-filter", "topic-filter", "retained-filter"].forEach(function (id) { $(id).name = id; });
  bindFilter("client-filter", "clients");
  bindFilter("topic-filter", "topics");
  bindFilter("retained-filter", "retained");
  window.addEventListener("hashchange", show);
  show();
})();
