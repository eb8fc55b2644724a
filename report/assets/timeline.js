"use strict";
// The interactive timeline: rows come from the JSON data block and are only ever written with
// textContent, so no evidence text is parsed as HTML. Only the visible rows are in the DOM.
(function () {
  const data = JSON.parse(document.getElementById("timeline-data").textContent);
  const rows = data.rows;
  const C = {};
  data.columns.forEach(function (name, i) { C[name] = i; });
  const SHOWN = ["time", "source", "kind", "stream", "severity", "actor", "summary", "ref"];
  const ROW = 22;
  const $ = function (id) { return document.getElementById(id); };
  const view = $("tl-view"), spacer = $("tl-spacer"), body = $("tl-rows"), count = $("tl-count");
  const selects = { source: $("f-source"), kind: $("f-kind"), severity: $("f-severity"), stream: $("f-stream") };
  const search = $("f-search"), keyOnly = $("f-key"), from = $("f-from"), until = $("f-until");
  let shown = [];
  let hay = null;
  let selected = -1;

  Object.keys(selects).forEach(function (name) {
    const values = Array.from(new Set(rows.map(function (r) { return r[C[name]]; }))).sort();
    values.forEach(function (v) {
      const opt = document.createElement("option");
      opt.value = v;
      opt.textContent = v;
      selects[name].append(opt);
    });
  });

  // "2026-02-17 14:05", "2026-02-17T14:05:30Z": always UTC, like the rest of the report.
  function instant(input) {
    const text = input.value.trim();
    input.classList.remove("bad");
    if (!text) return null;
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)Z?$/.exec(text);
    const ms = m ? Date.parse(m[1] + "T" + m[2] + "Z") : NaN;
    if (isNaN(ms)) { input.classList.add("bad"); return null; }
    return ms;
  }

  function haystack() {
    if (hay === null) {
      hay = rows.map(function (r) {
        return [r[C.summary], r[C.message], r[C.actor], r[C.stream], r[C.ref]].join("\n").toLowerCase();
      });
    }
    return hay;
  }

  function apply() {
    const want = {};
    Object.keys(selects).forEach(function (name) { want[name] = selects[name].value; });
    const q = search.value.trim().toLowerCase();
    const lo = instant(from), hi = instant(until);
    const text = q ? haystack() : null;
    shown = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (want.source && r[C.source] !== want.source) continue;
      if (want.kind && r[C.kind] !== want.kind) continue;
      if (want.severity && r[C.severity] !== want.severity) continue;
      if (want.stream && r[C.stream] !== want.stream) continue;
      if (keyOnly.checked && !r[C.key]) continue;
      if (lo !== null && r[C.t] < lo) continue;
      if (hi !== null && r[C.t] > hi) continue;
      if (text && text[i].indexOf(q) < 0) continue;
      shown.push(i);
    }
    count.textContent = shown.length.toLocaleString("en") + " of " + rows.length.toLocaleString("en") + " events";
    count.dataset.shown = String(shown.length);
    spacer.style.height = shown.length * ROW + "px";
    render();
  }

  function render() {
    const first = Math.max(0, Math.floor(view.scrollTop / ROW) - 5);
    const last = Math.min(shown.length, first + Math.ceil(view.clientHeight / ROW) + 10);
    const frag = document.createDocumentFragment();
    for (let n = first; n < last; n++) {
      const index = shown[n], r = rows[index];
      const line = document.createElement("div");
      line.className = "tl-row sev-" + r[C.severity] + (r[C.key] ? " key" : "") +
        (r[C.finding] ? " finding" : "") + (index === selected ? " selected" : "");
      line.dataset.index = String(index);
      SHOWN.forEach(function (name) {
        const cell = document.createElement("span");
        const value = r[C[name]] === null ? "" : String(r[C[name]]);
        cell.textContent = value;
        cell.title = value;
        if (name === "ref") cell.className = "ref";
        line.append(cell);
      });
      frag.append(line);
    }
    body.style.transform = "translateY(" + first * ROW + "px)";
    body.replaceChildren(frag);
  }

  function detail(index) {
    const r = rows[index];
    const parts = [r[C.time] + "  " + r[C.source] + "  " + r[C.kind] + "  " + r[C.severity],
      "stream: " + r[C.stream], "ref: " + r[C.ref], "time quality: " + r[C.quality], "",
      r[C.message] === null ? r[C.summary] : r[C.message]];
    $("tl-detail").textContent = parts.join("\n");
  }

  body.addEventListener("click", function (event) {
    const line = event.target.closest(".tl-row");
    if (!line) return;
    selected = Number(line.dataset.index);
    detail(selected);
    render();
  });
  let pending = false;
  view.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; render(); });
  });
  Object.values(selects).forEach(function (s) { s.addEventListener("change", apply); });
  [search, from, until].forEach(function (input) { input.addEventListener("input", apply); });
  keyOnly.addEventListener("change", apply);
  apply();
  document.body.dataset.ready = "1";
})();
