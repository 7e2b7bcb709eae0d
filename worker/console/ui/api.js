// api.js: calls to the worker's REST API (Kafka Connect's, plus Penstock's
// /penstock/metrics/connectors). Errors carry the API's message.

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api sends a request and returns the decoded JSON body, or null when there
// is none; it throws an APIError for a non-2xx answer.
export async function api(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    const msg = data && data.message ? data.message : `${res.status} ${res.statusText}`;
    throw new APIError(res.status, msg);
  }
  return data;
}

export const enc = encodeURIComponent;

// rates returns Penstock's per-connector throughput report keyed by
// connector name (only connector's, with its history, when named), or an
// empty report when the worker does not serve it.
export async function rates(connector) {
  try {
    const q = connector ? `?connector=${enc(connector)}` : '';
    const r = await api('GET', `/penstock/metrics/connectors${q}`);
    const by = {};
    for (const c of r.connectors) by[c.name] = c;
    return { leader: r.leader, time: r.time, workers: r.workers, errors: r.errors, by };
  } catch {
    return { leader: null, time: 0, by: {} };
  }
}
