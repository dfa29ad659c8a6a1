/* kif view: draws the data kif embedded in this page (every number was computed in Python at build time). */
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("kif-data").textContent);
  const SVG = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  const CHAR = 6.7, LINE = 14, PAD = 8, MAX_CHARS = 46;
  const byId = new Map(DATA.nodes.map((n) => [n.id, n]));
  // Blocks nest (stage1 > stage1_block3): groups come outer first, so the last one listing a layer is its innermost.
  const groupOf = new Map();
  const groups = new Map(DATA.groups.map((g) => [g.id, g]));
  const parentOf = new Map(DATA.groups.map((g) => [g.id, g.parent]));
  for (const g of DATA.groups) for (const m of g.members) groupOf.set(m, g.id);
  const ancestors = (gid) => { const out = []; for (let g = parentOf.get(gid); g; g = parentOf.get(g)) out.push(g); return out; };
  const chain = (id) => (groupOf.has(id) ? [groupOf.get(id), ...ancestors(groupOf.get(id))] : []); // innermost first
  const depthOf = new Map(DATA.groups.map((g) => [g.id, ancestors(g.id).length]));
  const maxDepth = Math.max(0, ...depthOf.values());
  // A big graph opens with its blocks collapsed, so that the first layout stays fast.
  const collapsed = new Set(DATA.nodes.length > 150 ? DATA.groups.map((g) => g.id) : []);
  let selected = null, matches = new Set(), layout = null;
  const view = { x: 0, y: 0, w: 100, h: 100 };
  const svg = document.getElementById("graph"), port = document.getElementById("viewport");

  function el(tag, attrs, text) {
    const e = ["g", "rect", "text", "path", "svg", "marker", "defs"].includes(tag)
      ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const cut = (s) => (s.length > MAX_CHARS ? s.slice(0, MAX_CHARS - 1) + "…" : s);
  const shape = (s) => (s ? "[" + s.map((d) => (d === null ? "?" : d)).join(", ") + "]" : "?");
  const typed = (t) => (t && t.dtype ? t.dtype + " " + shape(t.shape) : "?");
  const num = (v) => (v === null || v === undefined ? "—" : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : +v.toFixed(5) + "");

  function labelOf(id) {
    if (id.startsWith("g:")) {
      const g = groups.get(id.slice(2));
      const types = [...new Set(g.members.map((m) => byId.get(m).type))];
      const last = byId.get(g.members[g.members.length - 1]);
      return ["▸ " + g.label, g.members.length + " layers: " + types.join(", "), typed(last.outputs[0])];
    }
    const n = byId.get(id);
    if (n.kind !== "layer") return [n.kind === "input" ? "Input" : "Output", n.name, typed(n.spec)];
    const outs = n.outputs.slice(0, 2).map(typed);
    if (n.outputs.length > 2) outs.push("+" + (n.outputs.length - 2) + " more outputs");
    return [n.type, n.name, ...outs];
  }
  // A layer shows as the outermost collapsed block around it, or as itself.
  const visible = (id) => { let v = id; for (const g of chain(id)) if (collapsed.has(g)) v = "g:" + g; return v; };

  function buildLayout() {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 18, ranksep: 30, marginx: 20, marginy: 24 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of DATA.nodes) {
      const id = visible(n.id);
      if (g.hasNode(id)) continue;
      const lines = labelOf(id).map(cut);
      g.setNode(id, { lines, width: Math.max(110, Math.max(...lines.map((l) => l.length)) * CHAR + 2 * PAD), height: lines.length * LINE + PAD });
    }
    for (const [a, b] of DATA.edges) {
      const va = visible(a), vb = visible(b);
      if (va !== vb && !g.hasEdge(va, vb)) g.setEdge(va, vb);
    }
    dagre.layout(g);
    return g;
  }

  function draw() {
    layout = buildLayout();
    port.replaceChildren();
    const defs = el("defs");
    const marker = el("marker", { id: "arrow", viewBox: "0 0 8 8", refX: "8", refY: "4", markerWidth: "7", markerHeight: "7", orient: "auto" });
    marker.appendChild(el("path", { d: "M0,0 L8,4 L0,8 z" }));
    defs.appendChild(marker);
    port.appendChild(defs);
    // An open block is framed by its members' bounding box (dagre's compound layout costs 5x on 1,000 layers).
    // An outer block's frame is wider by 10 px per level inside it, so nested frames and their titles do not overlap.
    for (const grp of DATA.groups) {
      if (collapsed.has(grp.id) || ancestors(grp.id).some((g) => collapsed.has(g))) continue;
      const boxes = [...new Set(grp.members.map(visible))].map((v) => layout.node(v));
      const pad = 6 + 10 * (maxDepth - depthOf.get(grp.id));
      const x0 = Math.min(...boxes.map((b) => b.x - b.width / 2)) - pad, x1 = Math.max(...boxes.map((b) => b.x + b.width / 2)) + pad;
      const y0 = Math.min(...boxes.map((b) => b.y - b.height / 2)) - 10 - pad, y1 = Math.max(...boxes.map((b) => b.y + b.height / 2)) + pad;
      const gid = grp.id, box = el("g", { class: "cluster", "data-group": gid });
      box.appendChild(el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }));
      const t = el("text", { x: x0 + 6, y: y0 + 11 }, "▾ " + grp.label);
      t.addEventListener("click", (ev) => { ev.stopPropagation(); collapsed.add(gid); draw(); });
      box.appendChild(t);
      port.appendChild(box);
    }
    for (const e of layout.edges()) {
      const pts = layout.edge(e).points;
      port.appendChild(el("path", { class: "edge", d: "M" + pts.map((p) => p.x.toFixed(1) + "," + p.y.toFixed(1)).join(" L") }));
    }
    for (const id of layout.nodes()) {
      const n = layout.node(id);
      const kind = id.startsWith("g:") ? "group" : byId.get(id).kind;
      const cls = ["node", kind, id === selected ? "selected" : "", matches.has(id) ? "match" : ""].join(" ").trim();
      const node = el("g", { class: cls, "data-id": id, transform: `translate(${n.x - n.width / 2},${n.y - n.height / 2})` });
      node.appendChild(el("rect", { width: n.width, height: n.height }));
      n.lines.forEach((line, i) => node.appendChild(el("text", { x: PAD, y: PAD / 2 + LINE * (i + 0.8), class: i === 0 ? "t" : "" }, line)));
      node.addEventListener("click", (ev) => { ev.stopPropagation(); onNode(id); });
      port.appendChild(node);
    }
  }

  function onNode(id) {
    if (dragged) { dragged = false; return; }
    if (id.startsWith("g:")) { collapsed.delete(id.slice(2)); draw(); return; }
    select(id);
  }

  function select(id) {
    selected = id;
    for (const n of port.querySelectorAll(".node")) n.classList.toggle("selected", n.getAttribute("data-id") === id);
    showDetails(byId.get(id));
  }

  // -- pan and zoom: the SVG viewBox follows the wheel and drags ---------------------------------------------------
  function applyView() { svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`); }
  // The whole graph; with `readable`, no smaller than 0.8 px per unit (a long chain then opens at its top).
  function fit(readable) {
    const g = layout.graph(), r = svg.getBoundingClientRect();
    const w = Math.max(g.width || 100, 100), h = Math.max(g.height || 100, 100);
    let scale = Math.max(w / Math.max(r.width, 1), h / Math.max(r.height, 1), 1 / 1.5); // never zoom in beyond 1.5x
    if (readable === true) scale = Math.min(scale, 1.25);
    view.w = r.width * scale; view.h = r.height * scale; view.x = (w - view.w) / 2; view.y = Math.min(0, (h - view.h) / 2);
    applyView();
  }
  function centerOn(id) {
    const n = layout.node(visible(id));
    if (!n) return;
    const r = svg.getBoundingClientRect(), k = Math.min(view.w / Math.max(r.width, 1), 1.5);
    view.w = r.width * k; view.h = r.height * k; view.x = n.x - view.w / 2; view.y = n.y - view.h / 2;
    applyView();
  }
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect(), f = Math.exp(ev.deltaY * 0.0015);
    const px = view.x + ((ev.clientX - r.left) / r.width) * view.w, py = view.y + ((ev.clientY - r.top) / r.height) * view.h;
    view.w *= f; view.h *= f; view.x = px - (px - view.x) * f; view.y = py - (py - view.y) * f;
    applyView();
  }, { passive: false });
  let drag = null;
  let dragged = false; // a drag that ends on a node is a pan, not a click
  svg.addEventListener("pointerdown", (ev) => { dragged = false; drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false }; });
  window.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect(), dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; svg.classList.add("dragging"); }
    view.x = drag.vx - (dx * view.w) / r.width; view.y = drag.vy - (dy * view.h) / r.height;
    applyView();
  });
  window.addEventListener("pointerup", () => { dragged = !!(drag && drag.moved); drag = null; svg.classList.remove("dragging"); });

  // -- the side panel ----------------------------------------------------------------------------------------------
  function table(rows) {
    const t = el("table");
    for (const [k, v] of rows) {
      const tr = el("tr");
      tr.appendChild(el("th", {}, k));
      const td = el("td");
      if (v instanceof Node) td.appendChild(v); else td.appendChild(el("code", {}, String(v)));
      tr.appendChild(td);
      t.appendChild(tr);
    }
    return t;
  }
  function metaText(meta) { return Object.keys(meta || {}).length ? JSON.stringify(meta) : "—"; }
  function ioTable(specs) {
    return table(specs.map((s) => [s.name, typed(s) + (Object.keys(s.meta || {}).length ? "  meta " + metaText(s.meta) : "")]));
  }
  function histogram(h) {
    const W = 360, H = 48, max = Math.max(...h.counts, 1), bw = W / h.counts.length;
    const s = el("svg", { class: "hist", width: W, height: H + 14, viewBox: `0 0 ${W} ${H + 14}` });
    h.counts.forEach((c, i) => s.appendChild(el("rect", { x: i * bw + 0.5, y: H - (c / max) * H, width: bw - 1, height: (c / max) * H })));
    s.appendChild(el("text", { x: 0, y: H + 12, "font-size": "10" }, num(h.edges[0])));
    s.appendChild(el("text", { x: W, y: H + 12, "font-size": "10", "text-anchor": "end" }, num(h.edges[h.edges.length - 1])));
    return s;
  }
  function weightBox(role, tensorName, roleInfo) {
    const t = DATA.tensors[tensorName] || {};
    const box = el("div", { class: "weight" });
    box.appendChild(el("strong", {}, role));
    box.appendChild(el("span", { class: "note" }, "  " + (roleInfo ? roleInfo.layout : "")));
    const rows = [["tensor", tensorName], ["shape", shape(t.shape)], ["dtype", t.dtype || "—"], ["size", (t.size ?? "—") + " elements" + (t.bytes !== undefined ? ", " + t.bytes + " bytes" : "")]];
    const st = t.stats;
    if (st) {
      rows.push(["min / max", num(st.min) + " / " + num(st.max)], ["mean / std", num(st.mean) + " / " + num(st.std)]);
      if (st.nan || st.inf) rows.push(["non-finite", st.nan + " NaN, " + st.inf + " Inf"]);
    }
    box.appendChild(table(rows));
    if (st && st.histogram) box.appendChild(histogram(st.histogram));
    if (st && st.sampled) box.appendChild(el("div", { class: "note" }, "statistics of an evenly strided sample of " + st.count + " elements"));
    if (!st) box.appendChild(el("div", { class: "note" }, "statistics not computed (kif view --no-stats)"));
    return box;
  }
  function showDetails(n) {
    const d = document.getElementById("details");
    d.replaceChildren();
    if (n.kind !== "layer") {
      d.appendChild(el("h2", {}, (n.kind === "input" ? "Input " : "Output ") + n.name));
      d.appendChild(table([["dtype", n.spec.dtype], ["shape", shape(n.spec.shape)], ...Object.entries(n.spec.meta).map(([k, v]) => ["meta." + k, JSON.stringify(v)])]));
      return;
    }
    d.appendChild(el("h2", {}, n.type + "  " + n.name));
    const link = el("a", { href: n.specLink, target: "_blank", rel: "noopener" }, "spec: " + n.type);
    d.appendChild(link);
    d.appendChild(el("h3", {}, "Inputs"));
    d.appendChild(table(n.inputs.map((t, i) => [String(i), t === null ? "(absent)" : t])));
    d.appendChild(el("h3", {}, "Outputs"));
    d.appendChild(table(n.outputs.map((o) => [o.name, typed(o)])));
    d.appendChild(el("h3", {}, "Attributes"));
    const attrs = Object.entries(n.attributes);
    d.appendChild(attrs.length ? table(attrs.map(([k, v]) => [k, JSON.stringify(v)])) : el("div", { class: "note" }, "none"));
    d.appendChild(el("h3", {}, "Weights"));
    const roles = Object.entries(n.weights);
    if (!roles.length) d.appendChild(el("div", { class: "note" }, "none"));
    for (const [role, tensor] of roles) d.appendChild(weightBox(role, tensor, n.roles[role]));
  }
  function showModel() {
    const m = DATA.model, s = document.getElementById("model");
    document.getElementById("title").textContent = m.name;
    s.appendChild(el("h2", {}, "Model " + m.name));
    const rows = [["KIF version", m.kif_version], ["producer", (m.producer.name || "") + " " + (m.producer.version || "")], ["layers", m.layers], ["parameters", m.parameters.toLocaleString("en")]];
    for (const k of ["description", "license", "preprocessing"]) if (m[k]) rows.push([k, m[k]]);
    for (const [k, v] of Object.entries(m.metadata)) rows.push(["metadata." + k, v]);
    s.appendChild(table(rows));
    s.appendChild(el("h3", {}, "Inputs"));
    s.appendChild(ioTable(m.inputs));
    s.appendChild(el("h3", {}, "Outputs"));
    s.appendChild(ioTable(m.outputs));
  }

  // -- search by name: highlights matches and lists them; a click opens the layer's block and centres it ---------
  const search = document.getElementById("search"), results = document.getElementById("results");
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    const found = q ? DATA.nodes.filter((n) => n.name.toLowerCase().includes(q)) : [];
    matches = new Set(found.map((n) => visible(n.id)));
    for (const node of port.querySelectorAll(".node")) node.classList.toggle("match", matches.has(node.getAttribute("data-id")));
    results.replaceChildren(...found.slice(0, 100).map((n) => {
      const li = el("li", { "data-id": n.id }, n.name + (n.type ? "  (" + n.type + ")" : ""));
      li.addEventListener("click", () => reveal(n.id));
      return li;
    }));
    if (found.length > 100) results.appendChild(el("li", { class: "note" }, "… " + (found.length - 100) + " more"));
    results.hidden = !q;
  });
  function reveal(id) {
    const closed = chain(id).filter((g) => collapsed.has(g));
    if (closed.length) { for (const g of closed) collapsed.delete(g); draw(); }
    select(id);
    centerOn(id);
  }

  document.getElementById("expand-all").addEventListener("click", () => { collapsed.clear(); draw(); fit(true); });
  document.getElementById("collapse-all").addEventListener("click", () => { for (const g of DATA.groups) collapsed.add(g.id); draw(); fit(true); });
  document.getElementById("fit").addEventListener("click", () => fit(false));
  window.addEventListener("resize", () => fit(true));
  showModel();
  draw();
  fit(true);
  window.kifView = { reveal, centerOn, collapsed, data: DATA }; // for tests and the console
})();
