// chart.js: a small inline SVG line chart: records/s in and out, bytes/s, or lag.

import { esc, num } from './util.js';

// chart returns the SVG markup of points ({time, in, out}, oldest first);
// series names the fields drawn (each its own CSS class), label the unit,
// fmt formats the axis' values.
export function chart(points, { series = ['in', 'out'], label = 'records per second', width = 1100, height = 180, fmt = num } = {}) {
  const pad = { l: 48, r: 8, t: 10, b: 22 };
  const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
  if (points.length < 2) {
    return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(label)}">
      <text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="axis">collecting samples…</text></svg>`;
  }
  const t0 = points[0].time, t1 = points[points.length - 1].time;
  const max = Math.max(1, ...points.map(p => Math.max(...series.map(k => p[k] || 0))));
  const x = t => pad.l + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * w);
  const y = v => pad.t + h - (v / max) * h;
  const line = key => points.map(p => `${x(p.time).toFixed(1)},${y(p[key] || 0).toFixed(1)}`).join(' ');
  const span = Math.round((t1 - t0) / 1000);
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(label)}">
    <line x1="${pad.l}" y1="${pad.t}" x2="${pad.l + w}" y2="${pad.t}" class="grid"/>
    <line x1="${pad.l}" y1="${pad.t + h / 2}" x2="${pad.l + w}" y2="${pad.t + h / 2}" class="grid"/>
    <line x1="${pad.l}" y1="${pad.t + h}" x2="${pad.l + w}" y2="${pad.t + h}" class="axisline"/>
    <text x="${pad.l - 6}" y="${pad.t + 4}" text-anchor="end" class="axis">${esc(fmt(max))}</text>
    <text x="${pad.l - 6}" y="${pad.t + h / 2 + 4}" text-anchor="end" class="axis">${esc(fmt(max / 2))}</text>
    <text x="${pad.l - 6}" y="${pad.t + h + 4}" text-anchor="end" class="axis">0</text>
    <text x="${pad.l}" y="${height - 4}" class="axis">−${span}s</text>
    <text x="${pad.l + w}" y="${height - 4}" text-anchor="end" class="axis">now</text>
    ${series.map(k => `<polyline points="${line(k)}" class="${esc(k)}"/>`).join('')}
  </svg>`;
}
