// papertrends explorer: the page state lives in the URL; every view is drawn from it.
// Plain JS and SVG, served from the package: nothing is fetched from outside this server.
"use strict";

const FIELDS = ["terms", "by", "since", "until", "source", "category", "min_upvotes"];
const FILTERS = ["source", "category", "min_upvotes"];
const timings = {};


function params() { return new URLSearchParams(location.search); }

function subset(p, names) {
  const out = new URLSearchParams();
  for (const n of names) if (p.get(n)) out.set(n, p.get(n));
  return out;
}

async function getJSON(path, query) {
  const response = await fetch(path + "?" + query.toString());
  const body = await response.json();
  timings[path] = body.ms;
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function go(changes, replace = false) {
  const p = params();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") p.delete(k); else p.set(k, v);
  }
  // Commas, bars, @ and * stay readable in a shared link (/?terms=scaling,tractab*&by=month).
  const url = "/?" + [...p.entries()].map(([k, v]) => k + "=" + encodeURIComponent(v)
    .replace(/%2C/g, ",").replace(/%7C/g, "|").replace(/%40/g, "@")).join("&");
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  render();
}

function fillForm(p) {
  for (const name of FIELDS) {
    const input = document.getElementById(name);
    input.value = p.get(name) || (name === "by" ? "month" : "");
  }
  $("#q").value = p.get("q") || "";
  $("#window").value = p.get("window") || "7d";
}

function showError(error) {
  const box = $("#error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

// ---- papers, rising, search, momentum -----------------------------------------------------------

function paperRow(row) {
  const tr = el("tr", { "data-paper-id": row.paper_id });
  const cell = el("td");
  cell.append(el("a", { href: row.link, target: "_blank", rel: "noopener noreferrer" }, row.title || row.paper_id));
  cell.append(el("span", { class: "id" }, " " + row.paper_id));
  tr.append(cell, el("td", {}, row.list_date || ""), el("td", { class: "num" }, row.upvotes ?? ""));
  return tr;
}

async function drawPapers(p) {
  const body = $("#papers tbody");
  body.replaceChildren();
  const point = p.get("point");
  if (!point || !point.includes("@")) {
    $("#papers-title").textContent = "Papers behind a point";
    $("#papers-hint").hidden = false;
    return;
  }
  const at = point.lastIndexOf("@");
  const term = point.slice(0, at), period = point.slice(at + 1);
  const query = subset(p, FILTERS);
  query.set("term", term);
  query.set("period", period);
  const data = await getJSON("/api/papers", query);
  $("#papers-hint").hidden = true;
  const first = data.papers.length === 100 ? " (the first 100, most upvoted first)" : "";
  $("#papers-title").textContent = `${data.papers.length} papers matching “${term}” first listed in ${period}${first}`;
  for (const row of data.papers) body.append(paperRow(row));
}

async function drawRising(p) {
  const query = subset(p, ["by", ...FILTERS]);
  const list = $("#rising");
  list.replaceChildren();
  let data;
  try { data = await getJSON("/api/rising", query); } catch (error) {
    list.append(el("li", { class: "note" }, String(error.message)));
    return;
  }
  $("#rising-window").textContent = `last ${data.window} ${data.by}s vs the ${data.window} before`;
  for (const r of data.rising) {
    const li = el("li", { "data-term": r.term });
    const link = el("a", { href: "#" }, r.term);
    link.addEventListener("click", (e) => {
      e.preventDefault();
      const terms = split(params().get("terms"));
      if (!terms.includes(r.term)) terms.push(r.term);
      go({ terms: terms.join(","), point: null });
    });
    li.append(link, el("span", { class: "note" }, ` ${pct(r.share_before)} → ${pct(r.share_recent)}`));
    list.append(li);
  }
}

async function drawSearch(p) {
  const list = $("#hits");
  list.replaceChildren();
  if (!p.get("q")) return;
  const query = subset(p, ["since", "until", ...FILTERS]);
  query.set("q", p.get("q"));
  const data = await getJSON("/api/search", query);
  if (!data.hits.length) list.append(el("li", { class: "note" }, "no papers found"));
  for (const hit of data.hits) {
    const li = el("li", { "data-paper-id": hit.paper_id });
    li.append(el("a", { href: hit.link, target: "_blank", rel: "noopener noreferrer" }, hit.title),
      el("span", { class: "note" }, ` ${hit.list_date} · ${hit.upvotes ?? 0} upvotes · score ${hit.score}`));
    list.append(li);
  }
}

function drawCurve(data) {
  const box = $("#curve");
  box.replaceChildren();
  if (!data || !data.curve.length) return;
  const W = 300, H = 110, L = 30, R = 8, T = 10, B = 20;
  const times = data.curve.map((c) => Date.parse(c.seen_at));
  const t0 = Math.min(...times), t1 = Math.max(...times), vmax = Math.max(1, ...data.curve.map((c) => c.upvotes));
  const x = (t) => L + (t1 === t0 ? (W - L - R) / 2 : ((t - t0) * (W - L - R)) / (t1 - t0));
  const y = (v) => T + (H - T - B) * (1 - v / vmax);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", id: "curve-svg", "data-paper-id": data.paper_id });
  svg.append(el("svg:polyline", { points: data.curve.map((c, i) => `${x(times[i])},${y(c.upvotes)}`).join(" "), class: "curve" }));
  data.curve.forEach((c, i) => {
    const dot = el("svg:circle", { cx: x(times[i]), cy: y(c.upvotes), r: 3, class: "curve-point", "data-upvotes": c.upvotes });
    dot.append(el("svg:title", {}, `${data.paper_id}: ${c.upvotes} upvotes at ${c.seen_at} (${c.source})`));
    svg.append(dot);
  });
  svg.append(el("svg:text", { x: L - 4, y: T + 8, class: "tick", "text-anchor": "end" }, String(vmax)));
  svg.append(el("svg:text", { x: L, y: H - 4, class: "tick" }, data.curve[0].seen_at.slice(0, 10)));
  svg.append(el("svg:text", { x: W - R, y: H - 4, class: "tick", "text-anchor": "end" }, data.curve.at(-1).seen_at.slice(0, 10)));
  box.append(el("p", { class: "note" }, `upvotes of ${data.paper_id} over time`), svg);
}

async function drawMomentum(p) {
  const list = $("#momentum");
  list.replaceChildren();
  const query = new URLSearchParams({ window: p.get("window") || "7d" });
  const data = await getJSON("/api/momentum", query);
  if (!data.momentum.length) list.append(el("li", { class: "note" }, "no upvote sightings in this window"));
  for (const m of data.momentum) {
    const li = el("li", { "data-paper-id": m.paper_id, "data-gained": m.gained });
    const link = el("a", { href: "#" }, m.title || m.paper_id);
    link.addEventListener("click", (e) => { e.preventDefault(); go({ paper: m.paper_id }); });
    li.append(link, el("span", { class: "note" }, ` +${m.gained} (${m.upvotes_start} → ${m.upvotes_end})`));
    list.append(li);
  }
  drawCurve(p.get("paper") ? await getJSON("/api/curve", new URLSearchParams({ paper_id: p.get("paper") })) : null);
}

// ---- wiring -----------------------------------------------------------------------------------

function split(text) { return (text || "").split(",").map((t) => t.trim()).filter(Boolean); }

async function drawTrendAndVerdict(p, query) {
  const filters = FILTERS.filter((n) => p.get(n)).map((n) => `${n.replace("_", " ")} ${p.get(n)}`).join(", ");
  const data = await getJSON("/api/trend", query);
  drawTrend(data, filters);  // drawn at once; the verdict and change points follow
  if (!data.series.length) return;
  data.verdicts = (await getJSON("/api/verdict", query)).verdicts;
  drawTrend(data, filters);
}

async function render() {
  document.body.dataset.state = "loading";
  const p = params();
  fillForm(p);
  showError(null);
  const trendQuery = subset(p, FIELDS);
  const jobs = [
    drawTrendAndVerdict(p, trendQuery),
    drawPapers(p), drawRising(p), drawSearch(p), drawMomentum(p),
  ];
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) showError(failed.reason);
  $("#timing").textContent = "server time: " + Object.entries(timings).map(([k, v]) => `${k.slice(5)} ${v} ms`).join(" · ");
  document.body.dataset.state = failed ? "error" : "ready";
}

$("#query").addEventListener("submit", (e) => {
  e.preventDefault();
  const changes = { point: null };
  for (const name of FIELDS) changes[name] = document.getElementById(name).value.trim();
  changes.terms = split(changes.terms).join(",");
  if (changes.by === "month") changes.by = params().get("by") ? "month" : null;
  go(changes);
});
$("#search-form").addEventListener("submit", (e) => { e.preventDefault(); go({ q: $("#q").value.trim() }); });
$("#window").addEventListener("change", () => go({ window: $("#window").value === "7d" ? null : $("#window").value, paper: null }));
window.addEventListener("popstate", render);
pointClicked = (term, period) => go({ point: `${term}@${period}` });
render();
