// edge-rewriter studio: the browser side. It lays out what the engine answers (renders,
// selector proposals, problems, diffs) and builds rule forms from the rules' JSON Schema the
// engine serves. It decides nothing about rules itself.
'use strict';

const token = document.querySelector('meta[name="studio-token"]').content;
const $ = (selector) => document.querySelector(selector);

const studio = {
  state: null,        // /api/state: pages, urls, rules, schema, attribute
  rules: 'live',      // which rules the previews show: live, or the draft over them
  edit: null,         // { entry, replaces, rule } while a rule is open
  focus: null,        // a rule whose hits to highlight
  picked: null,       // the clicked element's number
  rendered: null,     // the last /api/render answer
  renders: 0,         // renders asked for, so a late answer never replaces a newer one
};

// ---------------------------------------------------------------- talking to the engine

async function api(path, body) {
  const options = { headers: { 'x-studio-token': token } };
  if (body !== undefined) {
    options.method = 'POST';
    options.headers['content-type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const type = response.headers.get('content-type') || '';
  const answer = type.startsWith('application/json') ? await response.json() : { error: await response.text() };
  return { ok: response.ok, status: response.status, answer };
}

function lines(text) {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

function request() {
  return {
    url: $('#url').value,
    headers: lines($('#headers').value),
    facts: lines($('#facts').value),
    at: $('#at').value,
  };
}

function view() {
  const asked = { page: $('#page').value, request: request(), rules: studio.rules };
  if (studio.edit) asked.edit = studio.edit;
  if (studio.focus) asked.focus = studio.focus;
  return asked;
}

let renderTimer = null;
function renderSoon() {
  clearTimeout(renderTimer);
  renderTimer = setTimeout(render, 250);
}

async function render() {
  const number = ++studio.renders;
  setStatus('#status', 'rendering…', 'busy');
  const { ok, answer } = await api('/api/render', view());
  if (number !== studio.renders) return;
  if (!ok) {
    setStatus('#status', answer.error || 'the render failed', 'bad');
    showProblems([{ message: answer.error }], []);
    return;
  }
  studio.rendered = answer;
  showPages(answer);
  showRules(answer);
  showDiffs(answer);
  if (studio.edit) {
    $('#entry-text').textContent = answer.entry_text || '';
    $('#editor-entry').textContent = answer.entry ? `${answer.entry}.json` : '';
    showProblems(answer.errors, answer.warnings, answer.costs);
  }
  let status = `${answer.bytes_in.toLocaleString()} → ${answer.bytes_out.toLocaleString()} bytes`;
  if (answer.passed_through) status = `passed through untouched: ${answer.passed_through}`;
  if (answer.bail_out) status += ` · stopped early: ${answer.bail_out}`;
  setStatus('#status', status, answer.passed_through || answer.bail_out ? 'bad' : 'ok');
  $('#hint').textContent = answer.numbering
    ? `Picking is off for this page: ${answer.numbering}`
    : 'Click an element in either page to make a rule for it.';
}

function setStatus(selector, text, kind) {
  const element = $(selector);
  element.textContent = text;
  element.dataset.kind = kind || '';
}

// ---------------------------------------------------------------- the previews

const frames = () => [$('#origin-frame'), $('#rewritten-frame')];

function showPages(answer) {
  const [origin, rewritten] = frames();
  fill(origin, answer.origin_html);
  fill(rewritten, answer.rewritten_html);
}

// Pages are data: shown in frames sandboxed without scripts, so nothing in them runs. The
// studio reaches into them (same origin) only to read which element was clicked and to mark
// elements.
function fill(frame, html) {
  if (frame.dataset.shown === html) {
    highlight(frame);
    return;
  }
  const scroll = frame.contentWindow ? [frame.contentWindow.scrollX, frame.contentWindow.scrollY] : [0, 0];
  frame.dataset.shown = html;
  frame.onload = () => {
    const doc = frame.contentDocument;
    if (!doc) return;
    doc.addEventListener('click', onPageClick, true);
    doc.addEventListener('submit', (event) => event.preventDefault(), true);
    doc.addEventListener('mouseover', (event) => hover(frame, event), true);
    frame.contentWindow.scrollTo(scroll[0], scroll[1]);
    highlight(frame);
    frame.dataset.ready = String(Number(frame.dataset.ready || 0) + 1);
  };
  frame.srcdoc = html;
}

function numberOf(element) {
  const attribute = studio.state.attribute;
  const numbered = element && element.closest ? element.closest(`[${attribute}]`) : null;
  return numbered ? Number(numbered.getAttribute(attribute)) : null;
}

function hover(frame, event) {
  const style = markStyle(frame.contentDocument, 'studio-hover');
  const number = numberOf(event.target);
  style.textContent = number ? `[${studio.state.attribute}="${number}"] { outline: 2px dashed #0ea5e9 !important; cursor: crosshair; }` : '';
}

function onPageClick(event) {
  event.preventDefault();
  event.stopPropagation();
  const number = numberOf(event.target);
  if (number) pick(number);
}

function markStyle(doc, id) {
  let style = doc.getElementById(id);
  if (!style) {
    style = doc.createElement('style');
    style.id = id;
    (doc.head || doc.documentElement).appendChild(style);
  }
  return style;
}

// The focused rule's hits in violet, the clicked element in orange.
function highlight(frame) {
  const doc = frame.contentDocument;
  if (!doc || !studio.state) return;
  const attribute = studio.state.attribute;
  const hits = (studio.rendered && studio.rendered.hits && studio.rendered.hits.elements) || [];
  const css = [];
  if (hits.length) {
    css.push(`${hits.map((n) => `[${attribute}="${n}"]`).join(',')} { outline: 3px solid #7c3aed !important; outline-offset: 1px; background-color: rgba(124, 58, 237, .08) !important; }`);
  }
  if (studio.picked) {
    css.push(`[${attribute}="${studio.picked}"] { outline: 3px solid #f97316 !important; outline-offset: 2px; }`);
  }
  markStyle(doc, 'studio-marks').textContent = css.join('\n');
  const marked = doc.querySelectorAll(hits.map((n) => `[${attribute}="${n}"]`).join(',') || ':not(*)');
  frame.dataset.marked = String(marked.length);
  if (marked.length && frame.dataset.scrolledTo !== String(hits[0])) {
    frame.dataset.scrolledTo = String(hits[0]);
    // Within the frame only: scrollIntoView would scroll the studio too.
    frame.contentWindow.scrollBy(0, marked[0].getBoundingClientRect().top - frame.clientHeight / 3);
  }
}

// ---------------------------------------------------------------- picking an element

async function pick(number) {
  studio.picked = number;
  frames().forEach(highlight);
  const { ok, answer } = await api('/api/pick', { page: $('#page').value, request: request(), ordinal: number });
  if (!ok) {
    setStatus('#status', answer.error, 'bad');
    return;
  }
  if (!studio.edit) openEditor(newRule(answer.proposals[0]), null, null);
  $('#picked').hidden = false;
  $('#picked-label').textContent = answer.label;
  const list = $('#proposals');
  list.replaceChildren();
  answer.proposals.forEach((proposal, index) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'proposal';
    button.dataset.selector = proposal.selector;
    button.dataset.index = String(index);
    const code = document.createElement('code');
    code.textContent = proposal.selector;
    const count = document.createElement('span');
    count.className = proposal.count === 1 ? 'count one' : 'count';
    count.textContent = proposal.count === 1 ? 'this element only' : `${proposal.count} elements`;
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = proposal.kind;
    button.append(code, count, kind);
    button.addEventListener('click', () => useSelector(proposal.selector));
    item.append(button);
    list.append(item);
  });
  if (studio.edit && !studio.edit.rule.selector && answer.proposals.length) useSelector(answer.proposals[0].selector);
  else markChosenProposal();
}

function useSelector(selector) {
  studio.edit.rule.selector = selector;
  buildForm();
  markChosenProposal();
  changed();
}

function markChosenProposal() {
  document.querySelectorAll('#proposals .proposal').forEach((button) => {
    button.setAttribute('aria-pressed', String(studio.edit && button.dataset.selector === studio.edit.rule.selector));
  });
}

function newRule(proposal) {
  const ids = new Set(studio.state.rules.map((rule) => rule.id));
  let id = 'new-rule';
  for (let n = 2; ids.has(id); n++) id = `new-rule-${n}`;
  const rule = { id, actions: [{ before: { html: '' } }] };
  if (proposal) rule.selector = proposal.selector;
  return rule;
}

// ---------------------------------------------------------------- the rules list

function showRules(answer) {
  const table = $('#rules');
  table.replaceChildren();
  const head = table.insertRow();
  ['rule', 'entry', 'applies', 'hits', ''].forEach((title) => {
    const th = document.createElement('th');
    th.textContent = title;
    head.append(th);
  });
  for (const row of answer.rules) {
    const tr = table.insertRow();
    tr.dataset.rule = row.id || '';
    tr.className = `applies-${row.applies} mode-${row.mode}` + (row.id && row.id === focusId() ? ' focused' : '');
    const name = tr.insertCell();
    name.textContent = row.id || '(no id)';
    if (row.mode === 'shadow') name.append(badge('shadow'));
    tr.insertCell().textContent = row.entry;
    tr.insertCell().textContent = row.applies;
    const fired = tr.insertCell();
    fired.className = 'num';
    fired.textContent = row.fired === null || row.fired === undefined ? '–' : String(row.fired);
    const open = tr.insertCell();
    if (row.id && row.applies !== 'invalid') {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'small';
      button.textContent = 'open';
      button.dataset.open = row.id;
      button.addEventListener('click', () => openExisting(row.id));
      open.append(button);
    }
    if (row.note) tr.title = row.note;
    if (row.note) {
      const note = table.insertRow();
      note.className = 'note';
      const cell = note.insertCell();
      cell.colSpan = 5;
      cell.textContent = row.note;
    }
  }
}

function badge(text) {
  const span = document.createElement('span');
  span.className = 'badge';
  span.textContent = text;
  return span;
}

function focusId() {
  return studio.focus || (studio.edit && studio.edit.rule.id);
}

// Opens a rule as written: the draft's version when the draft has it, else the live one.
function openExisting(id) {
  const written = studio.state.rules.filter((rule) => rule.id === id);
  const chosen = written.find((rule) => rule.from === 'draft') || written[0];
  if (!chosen) return;
  studio.focus = null;
  openEditor(JSON.parse(JSON.stringify(chosen.rule)), chosen.entry, id);
  setRules('draft');
}

function openEditor(rule, entry, replaces) {
  studio.edit = { rule, entry: entry || undefined, replaces: replaces || undefined };
  $('#editor').hidden = false;
  $('#editor-title').textContent = replaces ? `Editing ${replaces}` : 'New rule';
  $('#save-status').textContent = '';
  if (!studio.picked) $('#picked').hidden = true;
  buildForm();
  if (studio.rules !== 'draft') setRules('draft');
  else changed();
}

function closeEditor() {
  studio.edit = null;
  studio.picked = null;
  $('#editor').hidden = true;
  $('#picked').hidden = true;
  renderSoon();
}

function setRules(which) {
  studio.rules = which;
  document.querySelectorAll('[data-rules]').forEach((button) => {
    button.setAttribute('aria-pressed', String(button.dataset.rules === which));
  });
  renderSoon();
}

// ---------------------------------------------------------------- problems and diffs

function showProblems(errors, warnings, costs) {
  const box = $('#problems');
  box.replaceChildren();
  const add = (kind, text) => {
    const p = document.createElement('p');
    p.className = kind;
    p.textContent = text;
    box.append(p);
  };
  (errors || []).forEach((error) => add('error', error.message));
  (warnings || []).forEach((warning) => add('warning', `warning: ${warning.message}`));
  if (!box.childElementCount) add('fine', 'No problems: `rewrite validate --draft` would pass these rules.');
  showCosts(costs || []);
}

// The engine's cost estimate per rule (src/bin/rewrite/studio/pipeline.rs,
// `cost_estimates`): shown for the rule being edited.
function showCosts(costs) {
  const id = studio.edit && studio.edit.rule.id;
  const cost = costs.find((item) => item.rule === id);
  if (!cost) return;
  const p = document.createElement('p');
  p.className = 'cost';
  p.textContent = `cost: ${cost.estimate}`;
  $('#problems').append(p);
}

function showDiffs(answer) {
  // The engine's own HTML (the QA report's table), every text in it escaped by the engine.
  $('#diff').innerHTML = answer.diff_html;
  const live = answer.against_live;
  $('[data-tab="live"]').disabled = !live;
  if (live) {
    $('#rules-diff').textContent = live.rules_diff;
    $('#live-diff-table').innerHTML = live.diff_html;
  } else if (!$('#live-diff').hidden) {
    showTab('diff');
  }
}

function showTab(name) {
  document.querySelectorAll('[data-tab]').forEach((tab) => tab.setAttribute('aria-selected', String(tab.dataset.tab === name)));
  $('#diff').hidden = name !== 'diff';
  $('#live-diff').hidden = name !== 'live';
}

// ---------------------------------------------------------------- saving

async function save() {
  setStatus('#save-status', 'saving…', 'busy');
  const { ok, answer } = await api('/api/save', { edit: studio.edit });
  if (!ok) {
    setStatus('#save-status', answer.error, 'bad');
    if (answer.errors) showProblems(answer.errors, []);
    return;
  }
  setStatus('#save-status', `saved ${answer.file}`, 'ok');
  studio.edit.entry = answer.entry;
  studio.edit.replaces = studio.edit.rule.id;
  $('#editor-title').textContent = `Editing ${studio.edit.rule.id}`;
  $('#publish-card').hidden = false;
  $('#publish').textContent = answer.publish;
  await loadState();
  renderSoon();
}

// ---------------------------------------------------------------- forms from the JSON Schema
//
// Every field is built from the schema the engine generates from its rule types: objects
// become fieldsets (optional fields added on demand), `oneOf` becomes a choice (actions,
// content, modes), arrays become lists, `anyOf` with null makes a field optional. Each input
// carries its JSON path in `data-path`.

function resolve(schema) {
  let node = schema || {};
  while (node.$ref) node = studio.state.schema.$defs[node.$ref.replace('#/$defs/', '')];
  return node;
}

// The schema without its "or null" part, and whether null was allowed.
function nonNull(schema) {
  const node = resolve(schema);
  if (node.anyOf) {
    const rest = node.anyOf.filter((option) => resolve(option).type !== 'null');
    if (rest.length === 1) return { schema: { description: node.description, ...resolve(rest[0]) }, nullable: true };
  }
  if (Array.isArray(node.type) && node.type.includes('null')) {
    const types = node.type.filter((type) => type !== 'null');
    return { schema: { ...node, type: types.length === 1 ? types[0] : types }, nullable: true };
  }
  return { schema: node, nullable: false };
}

// A "one, or a list of them" (OneOrMany): anyOf [X, array of X].
function oneOrMany(schema) {
  const node = resolve(schema);
  if (!node.anyOf || node.anyOf.length !== 2) return null;
  const [one, many] = node.anyOf.map(resolve);
  return many.type === 'array' && many.items && resolve(many.items) === one ? one : null;
}

// The label of a oneOf option: its constant, or the one property it holds.
function optionName(option) {
  const node = resolve(option);
  if (node.const !== undefined) return String(node.const);
  if (node.properties) return Object.keys(node.properties)[0];
  return node.type || '?';
}

function defaultFor(schema) {
  const { schema: node } = nonNull(schema);
  const many = oneOrMany(node);
  if (many) return defaultFor(many);
  if (node.default !== undefined && node.default !== null) return JSON.parse(JSON.stringify(node.default));
  if (node.const !== undefined) return node.const;
  if (node.oneOf) return defaultFor(node.oneOf[0]);
  const type = Array.isArray(node.type) ? node.type[0] : node.type;
  switch (type) {
    case 'object': {
      const value = {};
      (node.required || []).forEach((key) => { value[key] = defaultFor(node.properties[key]); });
      return value;
    }
    case 'array': return [];
    case 'integer': case 'number': return node.minimum > 0 ? node.minimum : 0;
    case 'boolean': return false;
    default: return '';
  }
}

function describe(element, schema) {
  const text = schema && schema.description;
  if (text) element.title = text.replace(/\s*\n\s*/g, ' ');
}

// Builds an editor for `value` at `path` under `schema`; `set(v)` stores a new value.
function editor(schema, value, path, set) {
  const many = oneOrMany(schema);
  if (many) {
    const list = Array.isArray(value) ? value : [value];
    return arrayEditor({ items: many, description: resolve(schema).description }, list, path,
      (items) => set(items.length === 1 ? items[0] : items));
  }
  const node = resolve(schema);
  if (node.oneOf) return choiceEditor(node, value, path, set);
  const type = Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
  if (type === 'object') return objectEditor(node, value || {}, path, set);
  if (type === 'array') return arrayEditor(node, value || [], path, set);
  return scalarEditor(node, type, value, path, set);
}

function scalarEditor(node, type, value, path, set) {
  let input;
  const key = path.split('.').pop();
  if (type === 'boolean') {
    input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = Boolean(value);
    input.addEventListener('change', () => { set(input.checked); changed(); });
  } else if (type === 'integer' || type === 'number') {
    input = document.createElement('input');
    input.type = 'number';
    if (type === 'integer') input.step = '1';
    input.value = value === undefined || value === null ? '' : String(value);
    input.addEventListener('input', () => {
      const number = type === 'integer' ? parseInt(input.value, 10) : parseFloat(input.value);
      set(Number.isNaN(number) ? 0 : number);
      changed();
    });
  } else {
    const long = ['html', 'text', 'description', 'replace', 'value'].includes(key);
    input = document.createElement(long ? 'textarea' : 'input');
    if (long) input.rows = key === 'html' ? 4 : 2;
    input.spellcheck = false;
    input.value = value === undefined || value === null ? '' : String(value);
    input.addEventListener('input', () => { set(input.value); changed(); });
  }
  input.dataset.path = path;
  describe(input, node);
  return input;
}

function choiceEditor(node, value, path, set) {
  const options = node.oneOf.map(resolve);
  const wrap = document.createElement('div');
  wrap.className = 'choice';
  const select = document.createElement('select');
  select.dataset.path = path;
  describe(select, node);
  const current = options.findIndex((option) => option.const !== undefined
    ? option.const === value
    : value && typeof value === 'object' && !Array.isArray(value) && Object.keys(option.properties || {})[0] in value);
  options.forEach((option, index) => {
    const item = document.createElement('option');
    item.value = optionName(option);
    item.textContent = optionName(option).replace(/_/g, ' ');
    item.title = (option.description || '').replace(/\s*\n\s*/g, ' ');
    item.selected = index === Math.max(current, 0);
    select.append(item);
  });
  const help = document.createElement('div');
  help.className = 'help';
  const body = document.createElement('div');
  body.className = 'choice-body';
  const show = (index, keep) => {
    const option = options[index];
    help.textContent = (option.description || '').replace(/\s*\n\s*/g, ' ');
    body.replaceChildren();
    if (option.const !== undefined) {
      set(option.const);
      return;
    }
    const key = Object.keys(option.properties)[0];
    const inner = keep ? value[key] : defaultFor(option.properties[key]);
    const holder = { [key]: inner };
    set(holder);
    body.append(editor(option.properties[key], inner, `${path}.${key}`, (v) => { holder[key] = v; }));
  };
  select.addEventListener('change', () => { show(select.selectedIndex, false); changed(); });
  wrap.append(select, help, body);
  show(Math.max(current, 0), current >= 0);
  return wrap;
}

function objectEditor(node, value, path, set) {
  set(value);
  const box = document.createElement('div');
  box.className = 'object';
  const properties = node.properties || {};
  if (!node.properties && node.additionalProperties) return mapEditor(node, value, path);
  const required = new Set(node.required || []);
  // Fields in the order the engine's types declare them when known, required ones first.
  const order = Object.keys(properties).sort((a, b) => rank(path, a) - rank(path, b));
  const fields = document.createElement('div');
  fields.className = 'fields';
  const adder = document.createElement('select');
  adder.className = 'adder';
  adder.dataset.path = `${path}.+`;
  const refresh = () => {
    fields.replaceChildren();
    adder.replaceChildren(new Option('+ add a field…', ''));
    for (const key of order) {
      const child = path ? `${path}.${key}` : key;
      if (required.has(key) || key in value) {
        fields.append(fieldRow(key, properties[key], value, child, !required.has(key), refresh));
      } else {
        const option = new Option(key.replace(/_/g, ' '), key);
        option.title = (resolve(properties[key]).description || '').replace(/\s*\n\s*/g, ' ');
        adder.append(option);
      }
    }
    adder.hidden = adder.options.length === 1;
  };
  adder.addEventListener('change', () => {
    const key = adder.value;
    if (!key) return;
    value[key] = defaultFor(properties[key]);
    refresh();
    changed();
  });
  refresh();
  box.append(fields, adder);
  return box;
}

// A rule's fields in the order docs/RULES.md introduces them; others by name.
const RULE_ORDER = ['id', 'description', 'selector', 'actions', 'when', 'max', 'mode', 'enabled', 'experiment'];
function rank(path, key) {
  if (path !== '') return 0;
  const at = RULE_ORDER.indexOf(key);
  return at < 0 ? RULE_ORDER.length : at;
}

function fieldRow(key, schema, holder, path, removable, refresh) {
  const row = document.createElement('div');
  row.className = 'field';
  row.dataset.field = path;
  const label = document.createElement('label');
  label.className = 'name';
  label.textContent = key.replace(/_/g, ' ');
  const { schema: inner } = nonNull(schema);
  describe(label, { description: resolve(schema).description || inner.description });
  const head = document.createElement('div');
  head.className = 'field-head';
  head.append(label);
  if (removable) {
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'x';
    remove.textContent = '×';
    remove.title = `remove ${key}`;
    remove.addEventListener('click', () => { delete holder[key]; refresh(); changed(); });
    head.append(remove);
  }
  row.append(head, editor(inner, holder[key], path, (v) => { holder[key] = v; }));
  return row;
}

function arrayEditor(node, items, path, set) {
  set(items);
  const box = document.createElement('div');
  box.className = 'array';
  const list = document.createElement('div');
  const refresh = () => {
    list.replaceChildren();
    items.forEach((item, index) => {
      const row = document.createElement('div');
      row.className = 'item';
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'x';
      remove.textContent = '×';
      remove.title = 'remove';
      remove.addEventListener('click', () => { items.splice(index, 1); set(items); refresh(); changed(); });
      row.append(editor(node.items, item, `${path}.${index}`, (v) => { items[index] = v; }), remove);
      list.append(row);
    });
  };
  const add = document.createElement('button');
  add.type = 'button';
  add.className = 'small add';
  add.dataset.path = `${path}.+`;
  add.textContent = `+ add ${path.split('.').pop().replace(/s$/, '').replace(/_/g, ' ') || 'item'}`;
  add.addEventListener('click', () => { items.push(defaultFor(node.items)); set(items); refresh(); changed(); });
  refresh();
  box.append(list, add);
  describe(box, node);
  return box;
}

// A map of names to values (`csp_add`: directive → sources).
function mapEditor(node, value, path) {
  const box = document.createElement('div');
  box.className = 'map';
  const refresh = () => {
    box.replaceChildren();
    for (const key of Object.keys(value)) {
      const row = document.createElement('div');
      row.className = 'item';
      const name = document.createElement('input');
      name.value = key;
      name.dataset.path = `${path}.${key}.name`;
      name.addEventListener('change', () => {
        const inner = value[key];
        delete value[key];
        value[name.value] = inner;
        refresh();
        changed();
      });
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'x';
      remove.textContent = '×';
      remove.addEventListener('click', () => { delete value[key]; refresh(); changed(); });
      row.append(name, editor(node.additionalProperties, value[key], `${path}.${key}`, (v) => { value[key] = v; }), remove);
      box.append(row);
    }
    const add = document.createElement('button');
    add.type = 'button';
    add.className = 'small add';
    add.textContent = '+ add';
    add.addEventListener('click', () => {
      let key = 'name';
      for (let n = 2; key in value; n++) key = `name-${n}`;
      value[key] = defaultFor(node.additionalProperties);
      refresh();
      changed();
    });
    box.append(add);
  };
  refresh();
  return box;
}

function buildForm() {
  const form = $('#form');
  form.replaceChildren(objectEditor(studio.state.schema.$defs.Rule, studio.edit.rule, '', (v) => { studio.edit.rule = v; }));
}

function changed() {
  markChosenProposal();
  renderSoon();
}

// ---------------------------------------------------------------- start

async function loadState() {
  const { ok, answer } = await api('/api/state');
  if (!ok) throw new Error(answer.error);
  studio.state = answer;
}

async function start() {
  await loadState();
  const pages = $('#page');
  for (const page of studio.state.pages) pages.append(new Option(page, page));
  const urls = $('#urls');
  for (const { url } of studio.state.urls) urls.append(new Option(url, url));
  const first = studio.state.urls.find((entry) => entry.page);
  if (first) {
    pages.value = first.page;
    $('#url').value = first.url;
  } else {
    $('#url').value = urlFor(pages.value);
  }
  pages.addEventListener('change', () => {
    const preset = studio.state.urls.find((entry) => entry.page === pages.value);
    $('#url').value = preset ? preset.url : urlFor(pages.value);
    studio.picked = null;
    renderSoon();
  });
  $('#url').addEventListener('change', () => {
    const preset = studio.state.urls.find((entry) => entry.url === $('#url').value);
    if (preset && preset.page) pages.value = preset.page;
    renderSoon();
  });
  ['#headers', '#facts', '#at'].forEach((field) => $(field).addEventListener('input', renderSoon));
  document.querySelectorAll('[data-rules]').forEach((button) => button.addEventListener('click', () => setRules(button.dataset.rules)));
  document.querySelectorAll('[data-tab]').forEach((tab) => tab.addEventListener('click', () => showTab(tab.dataset.tab)));
  $('#new-rule').addEventListener('click', () => { studio.picked = null; openEditor(newRule(null), null, null); });
  $('#close-editor').addEventListener('click', closeEditor);
  $('#save').addEventListener('click', save);
  document.body.dataset.ready = 'true';
  await render();
}

// The request a page is simulated at by default: its path under the pages directory.
function urlFor(page) {
  const path = (page || '').replace(/(^|\/)index\.html$/, '$1');
  return `https://localhost/${path}`;
}

start().catch((error) => setStatus('#status', String(error), 'bad'));
