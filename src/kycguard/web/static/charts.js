// Plain SVG charts (no library, no CDN): stacked bars and lines over time buckets, with a legend
// and a text alternative (the numbers are also in the table under the charts).
const NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(container, labels, max, format) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart-svg" });
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, format((max * i) / 4)));
  }
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % every) return;
    const x = PAD.left + (plotW * (i + 0.5)) / labels.length;
    svg.append(el("text", { x, y: H - 8, "text-anchor": "middle", class: "axis" }, label));
  });
  container.append(svg);
  return { svg, plotW, plotH };
}

function legend(container, series) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  for (const s of series) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = s.color;
    li.append(swatch, document.createTextNode(s.name));
    ul.append(li);
  }
  container.append(ul);
}

const plain = (v) => (Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10));
const percent = (v) => `${Math.round(v * 1000) / 10}%`;

/** Stacked bars: one bar per bucket, one segment per series. */
export function drawBars(container, labels, series) {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const { svg, plotW, plotH } = frame(container, labels, max, plain);
  svg.setAttribute("aria-label", `${series.map((s) => s.name).join(", ")}: ${totals.reduce((a, b) => a + b, 0)} in all`);
  const bw = (plotW / Math.max(1, labels.length)) * 0.7;
  labels.forEach((_, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (!v) continue;
      const hgt = (plotH * v) / max;
      const x = PAD.left + (plotW * i) / labels.length + (plotW / labels.length - bw) / 2;
      const y = PAD.top + plotH - (plotH * base) / max - hgt;
      const rect = el("rect", { x, y, width: bw, height: hgt, fill: s.color, "data-series": s.name, "data-value": v });
      rect.append(el("title", {}, `${labels[i]} ${s.name}: ${v}`));
      svg.append(rect);
      base += v;
    }
  });
  legend(container, series);
}

/** Lines; a null value (no data in that bucket) breaks the line. */
export function drawLines(container, labels, series, { percent: asPercent = false } = {}) {
  const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const max = asPercent ? Math.max(0.05, ...all) : Math.max(1, ...all);
  const { svg, plotW, plotH } = frame(container, labels, max, asPercent ? percent : plain);
  svg.setAttribute("aria-label", series.map((s) => s.name).join(", "));
  for (const s of series) {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) {
        d += " ";
        return;
      }
      const x = PAD.left + (plotW * (i + 0.5)) / labels.length;
      const y = PAD.top + plotH - (plotH * v) / max;
      d += `${d.endsWith(" ") || !d ? "M" : "L"}${x.toFixed(1)} ${y.toFixed(1)} `;
      const dot = el("circle", { cx: x, cy: y, r: 3, fill: s.color, "data-series": s.name, "data-value": v });
      dot.append(el("title", {}, `${labels[i]} ${s.name}: ${asPercent ? percent(v) : plain(v)}`));
      svg.append(dot);
    });
    svg.prepend(el("path", { d: d.trim().replace(/ {2,}/g, " "), fill: "none", stroke: s.color, "stroke-width": 2 }));
  }
  legend(container, series);
}
