// papertrends trend chart: share per period with 95% bands, small samples marked, verdicts and change
// points drawn, totals below. Shared by the explorer page and the `trend --chart FILE.html` file.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (selector) => document.querySelector(selector);
// The page that embeds the chart decides what a click on a point does (the explorer lists its papers).
let pointClicked = () => {};

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(x < 0.1 ? 1 : 0) + "%");

// ---- the trend chart ---------------------------------------------------------------------------

function drawTrend(data, filters) {
  const chart = $("#chart"), legend = $("#legend");
  chart.replaceChildren();
  legend.replaceChildren();
  $("#chart-note").textContent = "";
  if (!data.series.length) {
    chart.append(el("p", { class: "note" }, "Type one or more terms (comma-separated) and press Show."));
    return;
  }
  const periods = data.totals.map((t) => t.period);
  const W = 900, H = 330, B = 110, L = 56, R = 34, T = 18, gap = 34;
  const plotH = H - T - 24;
  const x = (i) => L + (periods.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (periods.length - 1));
  // The y axis follows the shares and the intervals of periods large enough to trust, so a month of
  // 13 papers cannot stretch it; wider bands are clipped at the top (and drawn as running off it).
  let top = 0;
  for (const s of data.series) for (const q of s.points) {
    if (q.share !== null) top = Math.max(top, q.share);
    if (q.total >= data.small_sample && q.share_high !== null) top = Math.max(top, q.share_high);
  }
  top = top > 0 ? top * 1.08 : 0.01;
  const y = (v) => T + plotH - (Math.min(v, top) / top) * plotH;

  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H + gap + B}`, width: "100%", role: "img", id: "trend-svg",
    "aria-label": "share of papers per period" });
  const defs = el("svg:defs"), clip = el("svg:clipPath", { id: "plot-clip" });
  clip.append(el("svg:rect", { x: L, y: T, width: W - L - R, height: plotH }));
  defs.append(clip);
  svg.append(defs);
  // Grid and y axis (shares).
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(el("svg:text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, pct(v)));
  }
  svg.append(el("svg:text", { x: 12, y: T + plotH / 2, class: "axis", transform: `rotate(-90 12 ${T + plotH / 2})`,
    "text-anchor": "middle" }, "share of papers (95% interval)"));
  const step = Math.max(1, Math.ceil(periods.length / 12));
  periods.forEach((label, i) => {
    if (i % step === 0) svg.append(el("svg:text", { x: x(i), y: H + gap + B - 4, class: "tick", "text-anchor": "middle" }, label));
  });

  data.series.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    const pts = s.points.map((q, i) => ({ ...q, i })).filter((q) => q.share !== null);
    const group = el("svg:g", { class: "series", "data-term": s.term, "clip-path": "url(#plot-clip)" });
    if (pts.length) {
      const upper = pts.map((q) => `${x(q.i)},${y(q.share_high)}`);
      const lower = pts.slice().reverse().map((q) => `${x(q.i)},${y(q.share_low)}`);
      group.append(el("svg:polygon", { points: upper.concat(lower).join(" "), fill: color, class: "band" }));
      group.append(el("svg:polyline", { points: pts.map((q) => `${x(q.i)},${y(q.share)}`).join(" "), stroke: color, class: "line" }));
    }
    svg.append(group);
    const dots = el("svg:g", { class: "points" });
    for (const q of pts) {
      const small = q.total < data.small_sample;
      const dot = el("svg:circle", {
        cx: x(q.i), cy: y(q.share), r: small ? 4.5 : 4, stroke: color, fill: small ? "white" : color,
        class: "point" + (small ? " small" : ""), "data-term": s.term, "data-period": q.period,
        "data-matches": q.matches, "data-total": q.total, "data-share": q.share, tabindex: 0,
      });
      dot.append(el("svg:title", {}, `${s.term} — ${q.period}: ${q.matches} of ${q.total} papers, ` +
        `${pct(q.share)} (95% interval ${pct(q.share_low)}–${pct(q.share_high)})` + (small ? "; small sample" : "") +
        "\nclick: list these papers"));
      dot.addEventListener("click", () => pointClicked(s.term, q.period));
      dot.addEventListener("keydown", (e) => { if (e.key === "Enter") pointClicked(s.term, q.period); });
      dots.append(dot);
    }
    svg.append(dots);
    // The change point, drawn where the verdict found it.
    const v = data.verdicts[index];
    if (v && v.since) {
      const at = periods.indexOf(v.since);
      if (at >= 0) {
        svg.append(el("svg:line", { x1: x(at), x2: x(at), y1: T, y2: T + plotH, stroke: color, class: "change",
          "data-term": s.term, "data-since": v.since }));
        svg.append(el("svg:text", { x: x(at) + 4, y: T + 12 + 14 * index, fill: color, class: "change-label" },
          `${s.term}: changes since ${v.since}`));
      }
    }
  });
  // Totals: the papers each share is out of.
  const maxTotal = Math.max(1, ...data.totals.map((t) => t.total));
  const by = H + gap, barW = Math.max(1, Math.min(24, ((W - L - R) / Math.max(1, periods.length)) * 0.7));
  svg.append(el("svg:text", { x: 12, y: by + B / 2, class: "axis", transform: `rotate(-90 12 ${by + B / 2})`,
    "text-anchor": "middle" }, "papers"));
  svg.append(el("svg:text", { x: L - 6, y: by + 8, class: "tick", "text-anchor": "end" }, String(maxTotal)));
  data.totals.forEach((t, i) => {
    const h = ((B - 24) * t.total) / maxTotal;
    const bar = el("svg:rect", { x: x(i) - barW / 2, y: by + (B - 24) - h, width: barW, height: h,
      class: "bar" + (t.total < data.small_sample ? " small" : ""), "data-period": t.period, "data-total": t.total });
    bar.append(el("svg:title", {}, `${t.period}: ${t.total} papers first listed`));
    svg.append(bar);
  });
  chart.append(svg);

  // Legend and verdicts, outside the data.
  data.series.forEach((s, index) => {
    const v = data.verdicts[index];
    const item = el("div", { class: "legend-item", "data-term": s.term, "data-verdict": v ? v.verdict : "" });
    item.append(el("span", { class: "swatch", style: `background:${COLORS[index % COLORS.length]}` }));
    item.append(el("b", {}, s.term));
    item.append(el("span", { class: "verdict verdict-" + (v ? v.verdict.replace(/ /g, "-") : "") }, v ? v.verdict : ""));
    item.append(el("span", { class: "sentence" }, v ? v.sentence.replace(/^.*?: (rising|falling|flat) — /, "").replace(/^.*?: /, "") : ""));
    legend.append(item);
  });
  $("#chart-note").textContent = `Bands: 95% Wilson interval of each share. Hollow points and pale bars: periods of fewer than ` +
    `${data.small_sample} papers (their share is uncertain). Filters: ` +
    (filters || "none") + ".";
}

