// util.js: escaping and formatting shared by the pages.

// esc escapes text for HTML.
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// num formats a number compactly: 1234 -> 1.2k.
export function num(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

// bytes formats a byte count (or bytes/s) compactly in SI units: 1234 ->
// 1.2 kB; a negative count (a size the brokers did not give) -> –.
export function bytes(v) {
  if (v === undefined || v === null || Number.isNaN(v) || v < 0) return '–';
  if (v >= 1e9) return (v / 1e9).toFixed(1) + ' GB';
  if (v >= 1e6) return (v / 1e6).toFixed(1) + ' MB';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + ' kB';
  return Math.round(v) + ' B';
}

// badge is a connector or task state as a coloured label.
export function badge(state) {
  return `<span class="badge s-${esc(String(state).toLowerCase())}">${esc(state)}</span>`;
}

// shortClass drops a class name's package: io.x.FooConnector -> FooConnector.
export function shortClass(c) {
  return String(c ?? '').split('.').pop();
}
