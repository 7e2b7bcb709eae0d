// form.js: the create and edit form. Its fields come from the plugin's
// config definition as PUT /connector-plugins/{class}/config/validate
// answers it (groups, types, defaults, docs, recommended values, and the
// worker's common keys), and every change is validated live there, with
// each error shown at its field.

import { api, enc } from './api.js';
import { esc } from './util.js';

// Groups shown folded: the worker's keys most connectors leave alone.
const FOLDED = new Set(['Transforms', 'Predicates', 'Error Handling', 'Topic Creation']);

// formPage renders the form into main: a new connector when name is null,
// else an edit of that connector's config.
export async function formPage(main, name, flash) {
  const editing = name !== null;
  const plugins = (await api('GET', '/connector-plugins')).sort((a, b) => a.class.localeCompare(b.class));
  let values = {};
  if (editing) values = await api('GET', `/connectors/${enc(name)}/config`);
  main.innerHTML = `
    <h1>${editing ? `Edit ${esc(name)}` : 'New connector'}</h1>
    <form id="cform" novalidate>
      <div class="row">
        <label class="field"><span class="label">Plugin <b class="req">*</b></span>
          <select name="connector.class" id="plugin" ${editing ? 'disabled' : ''}>
            <option value="">Choose a plugin…</option>
            ${plugins.map(p => `<option value="${esc(p.class)}">${esc(p.class.split('.').pop())} (${esc(p.type)})</option>`).join('')}
          </select></label>
      </div>
      <div id="fields"></div>
      <div class="formbar"><span id="summary" class="muted"></span>
        <button type="submit" class="primary" id="submit" disabled>${editing ? 'Save' : 'Create'}</button></div>
    </form>`;
  const form = main.querySelector('#cform'), fieldsEl = main.querySelector('#fields');
  const select = main.querySelector('#plugin'), summary = main.querySelector('#summary');
  let cls = values['connector.class'] || '';
  const known = new Set();

  // current reads the form's non-empty values (empty means "the default");
  // an edit keeps the keys the form has no field for.
  const current = () => {
    const cfg = {};
    if (editing) for (const [k, v] of Object.entries(values)) if (!known.has(k)) cfg[k] = v;
    cfg['connector.class'] = cls;
    for (const el of form.querySelectorAll('[data-key]')) {
      const v = el.type === 'checkbox' ? (el.checked ? 'true' : '') : el.value.trim();
      if (v !== '') cfg[el.dataset.key] = v;
    }
    if (editing) cfg.name = name;
    return cfg;
  };

  // render adds the fields of definitions not shown yet (new ones appear
  // when e.g. transforms lists a new alias) and shows every field's errors.
  const render = infos => {
    const byGroup = new Map(infos.groups.map(g => [g, []]));
    for (const c of infos.configs) {
      const g = c.definition.group || shortName(cls);
      if (!byGroup.has(g)) byGroup.set(g, []);
      byGroup.get(g).push(c);
    }
    const order = [...byGroup.keys()].sort((a, b) => rank(a) - rank(b));
    for (const g of order) {
      const fresh = byGroup.get(g).filter(c => !known.has(c.definition.name) && c.definition.name !== 'connector.class');
      if (fresh.length === 0) continue;
      let box = fieldsEl.querySelector(`fieldset[data-group="${CSS.escape(g)}"] .grid`);
      if (!box) {
        const fs = document.createElement(FOLDED.has(g) ? 'details' : 'fieldset');
        fs.className = 'group';
        fs.dataset.group = g;
        fs.innerHTML = FOLDED.has(g) ? `<summary>${esc(g)}</summary><div class="grid"></div>` : `<legend>${esc(g)}</legend><div class="grid"></div>`;
        fieldsEl.append(fs);
        box = fs.querySelector('.grid');
      }
      for (const c of fresh.sort((a, b) => a.definition.order - b.definition.order)) {
        known.add(c.definition.name);
        box.insertAdjacentHTML('beforeend', field(c.definition, c.value, values[c.definition.name], editing));
      }
    }
    let errors = 0;
    for (const c of infos.configs) {
      const wrap = fieldsEl.querySelector(`[data-field="${CSS.escape(c.definition.name)}"]`);
      if (!wrap) continue;
      const errs = c.value.errors || [];
      errors += errs.length;
      wrap.classList.toggle('invalid', errs.length > 0);
      wrap.querySelector('.errors').textContent = errs.join(' ');
      const fs = wrap.closest('details.group');
      if (fs && errs.length) fs.open = true;
    }
    summary.textContent = errors ? `${errors} error${errors > 1 ? 's' : ''}` : 'Valid';
    summary.className = errors ? 'error' : 'ok';
    return errors;
  };

  let seq = 0;
  const validate = async () => {
    const mine = ++seq;
    const infos = await api('PUT', `/connector-plugins/${enc(cls)}/config/validate`, current());
    if (mine !== seq) return null; // a newer validation is under way
    return render(infos);
  };

  const choose = async () => {
    fieldsEl.innerHTML = '';
    known.clear();
    main.querySelector('#submit').disabled = !cls;
    if (!cls) return;
    if (!editing) values = { name: form.querySelector('[data-key="name"]')?.value || '' };
    await validate();
  };

  let debounce = null;
  form.addEventListener('input', ev => {
    if (ev.target === select) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => validate().catch(e => flash(e.message, 'error')), 250);
  });
  select.addEventListener('change', () => {
    cls = select.value;
    choose().catch(e => flash(e.message, 'error'));
  });
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    try {
      clearTimeout(debounce);
      const errors = await validate();
      if (errors) return flash('Fix the errors shown at their fields first.', 'error');
      const cfg = current();
      const cname = cfg.name;
      if (editing) {
        await api('PUT', `/connectors/${enc(cname)}/config`, cfg);
      } else {
        delete cfg.name;
        await api('POST', '/connectors', { name: cname, config: cfg });
      }
      flash(`${editing ? 'Saved' : 'Created'} ${cname}`);
      location.hash = `#/connectors/${enc(cname)}`;
    } catch (e) {
      flash(e.message, 'error');
    }
  });

  if (editing) {
    select.value = cls;
    if (select.value !== cls) select.insertAdjacentHTML('beforeend', `<option value="${esc(cls)}" selected>${esc(cls)}</option>`);
    await choose();
  }
}

// rank orders groups: Common first, the worker's folded groups last.
function rank(g) {
  if (g === 'Common') return 0;
  return FOLDED.has(g) ? 2 : 1;
}

function shortName(cls) {
  return cls.split('.').pop().replace(/Connector$/, '') || 'Connector';
}

// field is one config key's input: a select for recommended values and
// booleans, a number input for numbers, a text input otherwise; its default
// is the placeholder and its documentation the hint.
function field(def, val, initial, editing) {
  const key = def.name;
  const v = initial ?? '';
  const ph = def.default_value === null || def.default_value === '' ? '' : `default: ${def.default_value}`;
  const common = `name="${esc(key)}" data-key="${esc(key)}" id="f-${esc(key)}"`;
  let input;
  const rec = val.recommended_values || [];
  if (def.type === 'BOOLEAN' || rec.length) {
    const opts = def.type === 'BOOLEAN' ? ['true', 'false'] : rec;
    input = `<select ${common}><option value="">${esc(ph || '—')}</option>
      ${opts.map(o => `<option${o === v ? ' selected' : ''}>${esc(o)}</option>`).join('')}</select>`;
  } else if (def.type === 'PASSWORD') {
    input = `<input type="password" ${common} value="${esc(v)}" placeholder="${esc(ph)}" autocomplete="off">`;
  } else {
    // Numbers are text inputs so that a bad value reaches the validator.
    const numeric = ['INT', 'LONG', 'SHORT', 'DOUBLE'].includes(def.type) ? ' inputmode="decimal"' : '';
    const ro = editing && key === 'name' ? ' readonly' : '';
    input = `<input type="text" ${common} value="${esc(v)}" placeholder="${esc(ph)}" spellcheck="false"${numeric}${ro}>`;
  }
  return `<label class="field" data-field="${esc(key)}">
    <span class="label">${esc(def.display_name || key)}${def.required ? ' <b class="req">*</b>' : ''}
      <span class="type">${esc(def.type)}</span></span>
    ${input}
    <span class="errors"></span>
    <span class="doc">${esc(def.documentation)}</span></label>`;
}
