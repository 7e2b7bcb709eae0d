// topics.js: the topics list, one topic's live tail, and the consumer
// groups with their lag, from Penstock's /penstock/topics and
// /penstock/groups endpoints.

import { api, enc } from './api.js';
import { bytes, esc, num } from './util.js';

export async function topicsPage(main, current) {
  const topics = await api('GET', '/penstock/topics');
  if (!current()) return;
  const show = topicsPage.internal;
  const rows = topics.filter(t => show || (!t.internal && !t.name.startsWith('_') && !t.name.startsWith('connect-')))
    .map(t => `<tr data-topic="${esc(t.name)}"><td><a href="#/topics/${enc(t.name)}">${esc(t.name)}</a>${t.internal ? ' <span class="muted">internal</span>' : ''}</td>
      <td class="num">${t.partitions}</td><td class="num">${t.replication_factor}</td>
      <td class="num">${num(t.records)}</td><td class="num">${bytes(t.size_bytes)}</td></tr>`).join('');
  main.innerHTML = `
    <div class="titlebar"><h1>Topics</h1>
      <label class="inline"><input type="checkbox" id="show-internal"${show ? ' checked' : ''}> internal and worker topics</label></div>
    <table class="list" id="topics"><thead><tr><th>Name</th><th class="num">Partitions</th><th class="num">Replicas</th>
      <th class="num">Records</th><th class="num">Size</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="5" class="muted">No topics.</td></tr>'}</tbody></table>`;
  document.getElementById('show-internal').addEventListener('change', e => { topicsPage.internal = e.target.checked; });
}

function pretty(raw) {
  return esc(JSON.stringify(raw));
}

// topicPage shows the topic's latest records, newest first, refreshed
// every poll while "live" is on.
export async function topicPage(main, name, current) {
  if (topicPage.paused === undefined) topicPage.paused = false;
  let recs = topicPage.last && topicPage.lastName === name ? topicPage.last : [];
  if (!topicPage.paused || !recs.length) {
    recs = await api('GET', `/penstock/topics/${enc(name)}/records?limit=25`);
    topicPage.last = recs;
    topicPage.lastName = name;
  }
  if (!current()) return;
  const rows = recs.map(r => `<tr class="rec"><td class="num">${r.partition}</td><td class="num">${r.offset}</td>
      <td>${esc(new Date(r.timestamp).toISOString().replace('T', ' ').replace('Z', ''))}</td>
      <td><pre class="rec key">${pretty(r.key)}</pre></td><td><pre class="rec value">${pretty(r.value)}</pre>
      ${r.error ? `<div class="error">${esc(r.error)}</div>` : ''}</td>
      <td>${r.headers ? Object.entries(r.headers).map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join('<br>') : ''}</td></tr>`).join('');
  main.innerHTML = `
    <div class="titlebar"><h1>${esc(name)}</h1><a class="button" href="#/topics">All topics</a></div>
    <div class="toolbar"><label class="inline"><input type="checkbox" id="live"${topicPage.paused ? '' : ' checked'}> live tail</label>
      <span class="muted">latest ${recs.length} records, newest first; keys and values decoded by the converter or the schema registry</span></div>
    <table class="list" id="tail"><thead><tr><th class="num">Partition</th><th class="num">Offset</th><th>Timestamp</th><th>Key</th><th>Value</th><th>Headers</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="6" class="muted">No records yet.</td></tr>'}</tbody></table>`;
  document.getElementById('live').addEventListener('change', e => { topicPage.paused = !e.target.checked; });
}

export async function groupsPage(main, current) {
  const groups = await api('GET', '/penstock/groups');
  if (!current()) return;
  const open = new Set([...document.querySelectorAll('details.group[open]')].map(d => d.dataset.group));
  main.innerHTML = `<h1>Consumer groups</h1>
    <table class="list" id="groups"><thead><tr><th>Group</th><th>State</th><th class="num">Members</th><th class="num">Lag</th></tr></thead><tbody>
    ${groups.map(g => `<tr data-group="${esc(g.name)}"><td>${esc(g.name)}</td><td>${esc(g.state)}</td>
      <td class="num">${g.members}</td><td class="num">${num(g.total_lag)}</td></tr>`).join('')
      || '<tr><td colspan="4" class="muted">No consumer groups.</td></tr>'}</tbody></table>
    ${groups.filter(g => g.lag.length).map(g => `<details class="group" data-group="${esc(g.name)}"${open.has(g.name) ? ' open' : ''}>
      <summary>${esc(g.name)}: lag per partition</summary>
      ${g.error ? `<p class="error">${esc(g.error)}</p>` : ''}
      <table><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">End</th><th class="num">Lag</th><th>Member</th></tr></thead><tbody>
      ${g.lag.map(l => `<tr><td>${esc(l.topic)}</td><td class="num">${l.partition}</td><td class="num">${l.committed < 0 ? '–' : l.committed}</td>
        <td class="num">${l.end}</td><td class="num">${l.lag}</td><td>${esc(l.member || '')}</td></tr>`).join('')}
      </tbody></table></details>`).join('')}`;
}
