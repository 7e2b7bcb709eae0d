// app.js: the console's router and its overview, connector list and
// connector pages (topics.js has the topic and group pages). Every page
// polls the REST API while it is shown.

import { api, enc, rates } from './api.js';
import { chart } from './chart.js';
import { formPage } from './form.js';
import { groupsPage, topicPage, topicsPage } from './topics.js';
import { badge, bytes, esc, num, shortClass } from './util.js';

const main = document.getElementById('main');
const POLL_MS = 2000;
const STATES = ['RUNNING', 'PAUSED', 'STOPPED', 'FAILED', 'RESTARTING', 'UNASSIGNED'];

let timer = null;
let generation = 0;

// flash shows a message above the page for a few seconds.
export function flash(msg, kind = 'ok') {
  const el = document.getElementById('flash');
  el.textContent = msg;
  el.className = kind;
  el.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 3000);
}

// poll renders a page now and every POLL_MS until the route changes.
function poll(render) {
  const gen = generation;
  const tick = async () => {
    try {
      await render(() => gen === generation);
    } catch (e) {
      if (gen === generation) main.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    }
    if (gen === generation) timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

// connectorsExpanded is GET /connectors?expand=status&expand=info as a sorted list.
async function connectorsExpanded() {
  const all = await api('GET', '/connectors?expand=status&expand=info');
  return Object.entries(all).map(([name, v]) => ({ name, ...v })).sort((a, b) => a.name.localeCompare(b.name));
}

// ---- overview --------------------------------------------------------------

async function overview(current) {
  const [conns, r, plugins, groups] = await Promise.all([connectorsExpanded(), rates(),
    overview.plugins || api('GET', '/connector-plugins?connectorsOnly=false'),
    api('GET', '/penstock/groups').catch(() => null)]);
  overview.plugins = plugins;
  if (!current()) return;
  const connStates = {}, taskStates = {}, workers = {};
  const worker = id => (workers[id] ||= { connectors: 0, tasks: 0 });
  let tasks = 0, inRate = 0, outRate = 0;
  for (const c of conns) {
    const st = c.status;
    connStates[st.connector.state] = (connStates[st.connector.state] || 0) + 1;
    if (st.connector.worker_id) worker(st.connector.worker_id).connectors++;
    for (const t of st.tasks) {
      tasks++;
      taskStates[t.state] = (taskStates[t.state] || 0) + 1;
      if (t.worker_id) worker(t.worker_id).tasks++;
    }
    const cr = r.by[c.name];
    if (cr) { inRate += cr.records_in_per_sec; outRate += cr.records_out_per_sec; }
  }
  // Rates cover every worker that answered (r.workers), or this one alone.
  const scope = r.workers ? `${r.workers} worker${r.workers > 1 ? 's' : ''}` + (r.errors ? `; not reached: ${r.errors.join('; ')}` : '')
    : 'tasks on this worker';
  const counts = m => STATES.filter(s => m[s]).map(s => `<span class="count">${badge(s)} ${m[s]}</span>`).join(' ') || '<span class="muted">none</span>';
  const leader = r.leader === null ? 'unknown' : r.leader ? 'this worker' : 'another worker';
  const kinds = {};
  for (const p of plugins) kinds[p.type] = (kinds[p.type] || 0) + 1;
  main.innerHTML = `
    <h1>Overview</h1>
    <div class="cards">
      <div class="card"><h3>Connectors</h3><div class="big">${conns.length}</div>${counts(connStates)}</div>
      <div class="card"><h3>Tasks</h3><div class="big">${tasks}</div>${counts(taskStates)}</div>
      <div class="card"><h3>Records/s in</h3><div class="big" id="ov-in">${num(inRate)}</div><span class="muted">${esc(scope)}</span></div>
      <div class="card"><h3>Records/s out</h3><div class="big" id="ov-out">${num(outRate)}</div><span class="muted">${esc(scope)}</span></div>
      <div class="card"><h3>Consumer lag</h3><div class="big" id="ov-lag">${groups ? num(sinkLag(groups, conns)) : '–'}</div><span class="muted">records, sink connectors' groups</span></div>
    </div>
    <h2>Workers</h2>
    <table><thead><tr><th>Worker</th><th>Connectors</th><th>Tasks</th></tr></thead><tbody>
    ${Object.entries(workers).sort().map(([id, w]) => `<tr><td>${esc(id)}</td><td>${w.connectors}</td><td>${w.tasks}</td></tr>`).join('')
      || '<tr><td colspan="3" class="muted">No connector or task is assigned yet.</td></tr>'}
    </tbody></table>
    <p class="muted">Group leader: ${esc(leader)}. Plugins installed: ${Object.entries(kinds).map(([k, n]) => `${n} ${esc(k)}`).join(', ')}.</p>`;
}

// sinkLag sums the lag of the sink connectors' consumer groups
// (connect-<name>, or consumer.override.group.id).
function sinkLag(groups, conns) {
  const want = new Set(conns.filter(c => c.status.type === 'sink')
    .map(c => c.info.config['consumer.override.group.id'] || `connect-${c.name}`));
  return groups.filter(g => want.has(g.name)).reduce((a, g) => a + g.total_lag, 0);
}

// ---- connector list --------------------------------------------------------

// actions are the buttons of one connector, by its state.
function actions(name, state) {
  const b = (act, label, cls = '') => `<button class="${cls}" data-act="${act}" data-name="${esc(name)}">${label}</button>`;
  return [
    state === 'PAUSED' || state === 'STOPPED' ? b('resume', 'Resume') : b('pause', 'Pause'),
    state !== 'STOPPED' ? b('stop', 'Stop') : '',
    b('restart', 'Restart'),
    b('delete', 'Delete', 'danger'),
  ].join(' ');
}

async function connectorList(current) {
  const [conns, r] = await Promise.all([connectorsExpanded(), rates()]);
  if (!current()) return;
  const rows = conns.map(c => {
    const st = c.status, cr = r.by[c.name];
    const tasks = st.tasks.map(t => badge(t.state)).join(' ') || '<span class="muted">no tasks</span>';
    return `<tr data-connector="${esc(c.name)}">
      <td><a href="#/connectors/${enc(c.name)}">${esc(c.name)}</a></td>
      <td>${esc(st.type)}</td>
      <td title="${esc(c.info.config['connector.class'])}">${esc(shortClass(c.info.config['connector.class']))}</td>
      <td class="state">${badge(st.connector.state)}</td>
      <td>${tasks}</td>
      <td class="num">${cr ? num(cr.records_in_per_sec) : '–'}</td>
      <td class="num">${cr ? num(cr.records_out_per_sec) : '–'}</td>
      <td class="actions">${actions(c.name, st.connector.state)}</td></tr>`;
  }).join('');
  main.innerHTML = `
    <div class="titlebar"><h1>Connectors</h1><a class="button primary" href="#/new">New connector</a></div>
    <table class="list"><thead><tr><th>Name</th><th>Type</th><th>Class</th><th>State</th><th>Tasks</th>
      <th class="num">In/s</th><th class="num">Out/s</th><th></th></tr></thead>
    <tbody>${rows || '<tr><td colspan="8" class="muted">No connectors yet: create one.</td></tr>'}</tbody></table>`;
}

// act runs a connector action from a button.
async function act(action, name, onlyFailed) {
  const p = `/connectors/${enc(name)}`;
  switch (action) {
    case 'pause': await api('PUT', `${p}/pause`); break;
    case 'resume': await api('PUT', `${p}/resume`); break;
    case 'stop': await api('PUT', `${p}/stop`); break;
    case 'restart':
      await api('POST', `${p}/restart?includeTasks=true&onlyFailed=${onlyFailed ? 'true' : 'false'}`); break;
    case 'delete':
      if (!confirm(`Delete connector ${name}?`)) return;
      await api('DELETE', p);
      flash(`Deleted ${name}`);
      if (location.hash !== '#/connectors') location.hash = '#/connectors';
      return;
    case 'reset-offsets':
      if (!confirm(`Reset the offsets of ${name}?`)) return;
      await api('DELETE', `${p}/offsets`); break;
    case 'alter-offsets': {
      const text = document.getElementById('offsets-edit').value;
      let body;
      try { body = JSON.parse(text); } catch (e) { throw new Error(`Offsets: not JSON: ${e.message}`); }
      await api('PATCH', `${p}/offsets`, body);
      delete document.getElementById('offsets-edit').dataset.dirty;
      break;
    }
    default: return;
  }
  flash(`${action.replace('-', ' ')}: ${name}: done`);
  route();
}

main.addEventListener('click', async ev => {
  const btn = ev.target.closest('button[data-act]');
  if (!btn) return;
  ev.preventDefault();
  btn.disabled = true;
  try {
    const only = document.getElementById('only-failed');
    await act(btn.dataset.act, btn.dataset.name, only && only.checked);
  } catch (e) {
    flash(e.message, 'error');
  } finally {
    btn.disabled = false;
  }
});

// ---- one connector ---------------------------------------------------------

function trace(t) {
  return t ? `<details class="trace"><summary>trace</summary><pre>${esc(t)}</pre></details>` : '';
}

async function connectorPage(name, current) {
  const p = `/connectors/${enc(name)}`;
  const [st, info, r, prog] = await Promise.all([api('GET', `${p}/status`), api('GET', p), rates(name),
    api('GET', `/penstock/connectors/${enc(name)}/progress`).catch(() => null)]);
  let offsets = null, offErr = '';
  try { offsets = await api('GET', `${p}/offsets`); } catch (e) { offErr = e.message; }
  if (!current()) return;
  const state = st.connector.state, cr = r.by[name];
  const stopped = state === 'STOPPED';
  // Keep what the user is typing in the offsets editor across refreshes.
  const editing = document.getElementById('offsets-edit');
  const editText = editing && editing.dataset.dirty ? editing.value : null;
  const openTraces = new Set([...document.querySelectorAll('details.trace[open]')].map(d => d.dataset.id));
  const offRows = offsets ? offsets.offsets.map(o => `<tr><td><code>${esc(JSON.stringify(o.partition))}</code></td>
      <td><code>${esc(JSON.stringify(o.offset))}</code></td></tr>`).join('') : '';
  main.innerHTML = `
    <div class="titlebar"><h1>${esc(name)} ${badge(state)}</h1>
      <div class="actions">${actions(name, state)}
        <label class="inline"><input type="checkbox" id="only-failed"${connectorPage.onlyFailed ? ' checked' : ''}> only failed tasks</label>
        <a class="button" href="#/connectors/${enc(name)}/edit">Edit</a></div></div>
    <p class="muted">${esc(st.type)} · ${esc(info.config['connector.class'])} · worker ${esc(st.connector.worker_id || '–')}</p>
    ${st.connector.trace ? `<details class="trace" data-id="c" open><summary>connector trace</summary><pre>${esc(st.connector.trace)}</pre></details>` : ''}
    <h2>Throughput</h2>
    <div class="cards">
      <div class="card"><h3>Records/s in, last 5 s</h3><div class="big" id="rate-in">${cr ? num(cr.records_in_per_sec) : '–'}</div><span class="muted">${cr ? num(cr.records_in_total) + ' total' : 'no tasks on this worker'}</span></div>
      <div class="card"><h3>Records/s out, last 5 s</h3><div class="big" id="rate-out">${cr ? num(cr.records_out_per_sec) : '–'}</div><span class="muted">${cr ? num(cr.records_out_total) + ' total' : ''}</span></div>
      <div class="card"><h3>Bytes/s ${st.type === 'sink' ? 'read' : 'written'}, last 5 s</h3><div class="big" id="rate-bytes">${cr ? bytes(cr.bytes_per_sec || 0) : '–'}</div><span class="muted">${cr ? bytes(cr.bytes_total || 0) + (st.type === 'sink' ? ' read from' : ' written to') + ' Kafka' : ''}</span></div>
      <div class="card"><h3>Errors</h3><div class="big">${cr ? num(cr.record_errors_total) : '–'}</div><span class="muted">${cr ? num(cr.deadletterqueue_records_total) + ' to the DLQ' : ''}</span></div>
    </div>
    <div class="charts">
      <div class="chartbox">${chart((cr && cr.history) || [], { width: 540 })}<div class="legend"><span class="in">■ in</span> <span class="out">■ out</span> records/s</div></div>
      <div class="chartbox">${chart((cr && cr.history) || [], { series: ['bytes'], label: 'bytes per second', width: 540, fmt: bytes })}<div class="legend"><span class="bytes">■ ${st.type === 'sink' ? 'read' : 'written'}</span> bytes/s</div></div>
    </div>
    ${progressSection(prog)}
    <h2>Tasks</h2>
    <table><thead><tr><th>Task</th><th>State</th><th>Worker</th><th></th></tr></thead><tbody>
    ${st.tasks.map(t => `<tr><td>${t.id}</td><td>${badge(t.state)}</td><td>${esc(t.worker_id)}</td>
      <td>${t.trace ? `<details class="trace" data-id="t${t.id}"><summary>trace</summary><pre>${esc(t.trace)}</pre></details>` : ''}</td></tr>`).join('')
      || '<tr><td colspan="4" class="muted">No tasks.</td></tr>'}
    </tbody></table>
    <h2>Offsets</h2>
    ${offErr ? `<p class="error">${esc(offErr)}</p>` : `<table id="offsets"><thead><tr><th>Partition</th><th>Offset</th></tr></thead>
      <tbody>${offRows || '<tr><td colspan="2" class="muted">No offsets committed.</td></tr>'}</tbody></table>`}
    ${stopped ? `<div class="offsets-admin">
        <button class="danger" data-act="reset-offsets" data-name="${esc(name)}">Reset offsets</button>
        <details${editText !== null ? ' open' : ''}><summary>Alter offsets</summary>
          <textarea id="offsets-edit" rows="6"></textarea>
          <button data-act="alter-offsets" data-name="${esc(name)}">Apply</button></details></div>`
      : '<p class="muted">Stop the connector to reset or alter its offsets.</p>'}
    <h2>Configuration</h2>
    <table class="config"><tbody>${Object.entries(info.config).sort().map(([k, v]) =>
      `<tr><th>${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join('')}</tbody></table>`;
  for (const d of document.querySelectorAll('details.trace')) if (openTraces.has(d.dataset.id)) d.open = true;
  const ta = document.getElementById('offsets-edit');
  if (ta) {
    ta.value = editText !== null ? editText : JSON.stringify(offsets ? { offsets: offsets.offsets } : { offsets: [] }, null, 2);
    if (editText !== null) ta.dataset.dirty = '1';
    ta.addEventListener('input', () => { ta.dataset.dirty = '1'; });
  }
  document.getElementById('only-failed').addEventListener('change', e => { connectorPage.onlyFailed = e.target.checked; });
}

// progressSection shows lag (a sink's consumer lag, a CDC source's lag
// behind the database) with its chart over the last minutes, and snapshot
// progress per table.
function progressSection(prog) {
  if (!prog) return '';
  const srcBytes = prog.tasks.map(t => t.source_lag_bytes).filter(v => v !== undefined);
  const srcMs = prog.tasks.map(t => t.source_lag_ms).filter(v => v !== undefined);
  const sink = prog.type === 'sink';
  const lag = prog.lag ?? null, unit = prog.lag_unit;
  const tables = prog.tasks.flatMap(t => (t.snapshot || []).map(tb => ({ task: t.id, ...tb })));
  const bar = tb => {
    const pct = tb.done ? 100 : tb.rows_estimated > 0 ? Math.min(99, Math.floor(100 * tb.rows_read / tb.rows_estimated)) : 0;
    return `<div class="bar${tb.done ? ' done' : ''}" data-pct="${pct}"><span style="width:${pct}%"></span><em>${pct}%</em></div>`;
  };
  const lagCards = `<div class="cards">
      ${sink ? `<div class="card"><h3>Consumer lag</h3><div class="big" id="lag">${num(prog.total_lag)}</div><span class="muted">records behind, ${prog.consumer_lag ? prog.consumer_lag.length : 0} partitions</span></div>` : ''}
      ${srcBytes.length ? `<div class="card"><h3>Source lag</h3><div class="big" id="lag">${num(lag)}</div><span class="muted">bytes of WAL the slot holds</span></div>` : ''}
      ${srcMs.length ? `<div class="card"><h3>Behind the source</h3><div class="big" id="behind">${num(Math.max(...srcMs) / 1000)} s</div><span class="muted">age of the last change read</span></div>` : ''}
    </div>`;
  return `
    ${lag !== null ? `<h2>Lag</h2>${lagCards}
    <div class="chartbox">${chart(prog.lag_history || [], { series: ['lag'], label: `lag in ${unit}`, height: 140 })}<div class="legend"><span class="lag">■ lag</span> ${esc(unit)}</div></div>` : ''}
    ${sink && prog.consumer_lag && prog.consumer_lag.length ? `<details class="group"><summary>Consumer lag per partition</summary><table><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">End</th><th class="num">Lag</th></tr></thead><tbody>
      ${prog.consumer_lag.map(l => `<tr><td>${esc(l.topic)}</td><td class="num">${l.partition}</td><td class="num">${l.committed < 0 ? '–' : l.committed}</td><td class="num">${l.end}</td><td class="num">${l.lag}</td></tr>`).join('')}
      </tbody></table></details>` : ''}
    ${tables.length ? `<h2>Snapshot</h2>
    <table id="snapshot"><thead><tr><th>Table</th><th>Task</th><th class="num">Rows read</th><th class="num">Estimated</th><th>Progress</th></tr></thead><tbody>
    ${tables.map(tb => `<tr data-table="${esc(tb.table)}" data-rows="${tb.rows_read}"><td>${esc(tb.table)}</td><td>${tb.task}</td><td class="num">${num(tb.rows_read)}</td>
      <td class="num">${tb.rows_estimated < 0 ? '–' : num(tb.rows_estimated)}</td><td>${bar(tb)}</td></tr>`).join('')}
    </tbody></table>` : ''}
    ${prog.errors && prog.errors.length ? `<p class="error">${esc(prog.errors.join('; '))}</p>` : ''}`;
}

// ---- router ----------------------------------------------------------------

async function route() {
  generation++;
  clearTimeout(timer);
  const parts = (location.hash.slice(1) || '/').split('/').filter(Boolean).map(decodeURIComponent);
  const nav = ['new', 'connectors', 'topics', 'groups'].includes(parts[0]) ? parts[0] : 'overview';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === nav);
  if (parts.length === 0) return poll(overview);
  if (parts[0] === 'connectors' && parts.length === 1) return poll(connectorList);
  if (parts[0] === 'connectors' && parts[2] === 'edit') return formPage(main, parts[1], flash);
  if (parts[0] === 'connectors') return poll(current => connectorPage(parts[1], current));
  if (parts[0] === 'new') return formPage(main, null, flash);
  if (parts[0] === 'topics' && parts.length === 1) return poll(current => topicsPage(main, current));
  if (parts[0] === 'topics') return poll(current => topicPage(main, parts[1], current));
  if (parts[0] === 'groups') return poll(current => groupsPage(main, current));
  main.innerHTML = '<p class="error">No such page.</p>';
}

window.addEventListener('hashchange', route);
api('GET', '/').then(i => {
  document.getElementById('server').textContent = `Penstock ${i.version} · cluster ${i.kafka_cluster_id}`;
}).catch(() => {});
route();
