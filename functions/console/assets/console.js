// The Warden console: one page on the JSON API of the same origin.
//
// Rules this file keeps (functions/console/src/lib.rs sets the headers that
// enforce the first three):
// - No markup from strings. Every node is made with createElement and every
//   string goes in as a text node; the CSP enforces Trusted Types with no
//   policy, so assigning markup to any HTML sink would throw anyway.
// - No inline script or style: styling is by class names only.
// - Requests go to this origin only (`connect-src 'self'`).
// - Tokens live in this module's memory only: never in storage or a
//   cookie. A reload signs in again.
// - What an approver approves is shown exactly: the input is parsed
//   without loss (numbers keep their text, members their order, a
//   duplicate member stays visible), strings are shown as JSON string
//   literals, and every control, format, bidi, separator or invisible
//   character as its \uXXXX escape, highlighted, with a warning on the
//   proposal.

// ---------------------------------------------------------------- state

const session = {
  access: null,
  refresh: null,
  sessionId: null,
  me: null,
  refreshTimer: null,
  refreshing: null,
};

const byId = (id) => document.getElementById(id);

// ------------------------------------------------------- building nodes

/** An element with attributes (never from untrusted data but data-*
 * values) and children: nodes, or strings added as text. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function clear(el) {
  el.replaceChildren();
  return el;
}

// ------------------------------------------------- JSON, without loss

/** A number as the server wrote it: its text, never rounded. */
class Num {
  constructor(text) { this.text = text; }
}

/** An object as the server wrote it: its members in order, duplicates
 * kept (the display must not hide a second `"amount"`). */
class Obj {
  constructor(entries) { this.entries = entries; }
  get(key) {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }
}

/** Parses JSON text into strings, booleans, null, arrays, `Num` and
 * `Obj`. Strict RFC 8259; throws SyntaxError on anything else. */
function parseLossless(text) {
  let i = 0;
  const fail = (what) => { throw new SyntaxError(`JSON: ${what} at ${i}`); };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++; else break;
    }
  };
  const number = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

  function string() {
    i++; // the opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i];
      if (c === '"') { out += text.slice(start, i); i++; return out; }
      if (c < ' ') fail('raw control character in string');
      if (c !== '\\') { i++; continue; }
      out += text.slice(start, i);
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
      } else {
        fail('bad escape');
      }
      start = i;
    }
  }

  function value(depth) {
    if (depth > 256) fail('nested too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries = [];
      ws();
      if (text[i] === '}') { i++; return new Obj(entries); }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a member name');
        const key = string();
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        entries.push([key, value(depth + 1)]);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return new Obj(entries); }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const items = [];
      ws();
      if (text[i] === ']') { i++; return items; }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return items; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    number.lastIndex = i;
    const m = number.exec(text);
    if (m) { i = number.lastIndex; return new Num(m[0]); }
    return fail('unexpected character');
  }

  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing text');
  return result;
}

/** The member `path` of a lossless tree (keys and array indexes). */
function at(tree, ...path) {
  let node = tree;
  for (const step of path) {
    if (node instanceof Obj) node = node.get(step);
    else if (Array.isArray(node)) node = node[step];
    else return undefined;
  }
  return node;
}

// --------------------------------------- strings an approver can trust

// Shown escaped and highlighted: controls (Cc), format characters (Cf:
// bidi embeddings, overrides and isolates, zero-width characters, the word
// joiner, the BOM, tag characters), line and paragraph separators, spaces
// other than U+0020 (they look like one), lone surrogates, and the Hangul
// fillers that render as nothing.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}\p{Cs}\u115F\u1160\u3164\uFFA0]/u;

function isInvisible(ch) {
  return ch !== ' ' && INVISIBLE.test(ch);
}

/** `ch` as JSON \u escapes: one per UTF-16 code unit, upper-case hex. */
function uEscape(ch) {
  let out = '';
  for (let k = 0; k < ch.length; k++) {
    out += '\\u' + ch.charCodeAt(k).toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

/** Appends `s` to `el`, each invisible character as a highlighted escape;
 * with `quoted`, as a JSON string literal (quotes, `\"` and `\\`).
 * Returns how many invisible characters it found. */
function appendText(el, s, quoted) {
  let found = 0;
  let run = quoted ? '"' : '';
  for (const ch of s) {
    if (isInvisible(ch)) {
      if (run) { el.append(document.createTextNode(run)); run = ''; }
      el.append(h('span', { class: 'invisible', title: 'invisible character' }, uEscape(ch)));
      found++;
    } else if (quoted && (ch === '"' || ch === '\\')) {
      run += '\\' + ch;
    } else {
      run += ch;
    }
  }
  if (quoted) run += '"';
  if (run) el.append(document.createTextNode(run));
  return found;
}

/** A span showing `s` as text, invisible characters escaped. */
function safe(s, cls) {
  const el = h('span', { class: cls });
  appendText(el, String(s ?? ''), false);
  return el;
}

/** A <pre> with the lossless tree pretty-printed (two spaces), and the
 * number of invisible characters in it (names and values). */
function jsonBlock(tree) {
  const pre = h('pre', { class: 'json' });
  let found = 0;
  const write = (node, indent) => {
    const pad = '  '.repeat(indent);
    if (node instanceof Num) {
      pre.append(h('span', { class: 'num' }, node.text));
    } else if (typeof node === 'string') {
      const span = h('span', { class: 'str' });
      found += appendText(span, node, true);
      pre.append(span);
    } else if (node === true || node === false || node === null) {
      pre.append(h('span', { class: 'lit' }, String(node)));
    } else if (Array.isArray(node)) {
      if (node.length === 0) { pre.append('[]'); return; }
      pre.append('[\n');
      node.forEach((item, k) => {
        pre.append(pad + '  ');
        write(item, indent + 1);
        pre.append(k + 1 < node.length ? ',\n' : '\n');
      });
      pre.append(pad + ']');
    } else if (node instanceof Obj) {
      if (node.entries.length === 0) { pre.append('{}'); return; }
      pre.append('{\n');
      node.entries.forEach(([key, item], k) => {
        pre.append(pad + '  ');
        const name = h('span', { class: 'key' });
        found += appendText(name, key, true);
        pre.append(name, ': ');
        write(item, indent + 1);
        pre.append(k + 1 < node.entries.length ? ',\n' : '\n');
      });
      pre.append(pad + '}');
    } else {
      pre.append('(nothing)');
    }
  };
  write(tree, 0);
  return { pre, found };
}

/** The input or arguments of a proposal, with its warning when any
 * character in it is invisible. */
function canonicalInput(tree) {
  const { pre, found } = jsonBlock(tree);
  const box = h('div', { class: 'input' });
  if (found > 0) {
    box.append(h('p', { class: 'warning invisible-warning', role: 'alert' },
      `⚠ contains invisible characters (${found}): each is shown as its \\u escape, highlighted`));
  }
  box.append(pre);
  return { box, found };
}

// ----------------------------------------------------------- the API

/** Calls the JSON API: `{status, ok, data, tree, problem}`. `data` is the
 * body parsed by JSON.parse (for the envelope's fields), `tree` the same
 * body without loss (for what is shown as JSON). A 401 refreshes once. */
async function api(method, path, body, { auth = true, retried = false } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && session.access) headers.authorization = `Bearer ${session.access}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    return { status: 0, ok: false, data: null, tree: null, problem: 'Warden did not answer: check your connection' };
  }
  if (response.status === 401 && auth && !retried && session.refresh) {
    if (await refreshTokens()) return api(method, path, body, { auth, retried: true });
    signedOut('Your session ended: sign in again.');
  }
  const text = await response.text();
  let data = null;
  let tree = null;
  if (text) {
    try { data = JSON.parse(text); tree = parseLossless(text); } catch (e) { data = null; }
  }
  let problem = null;
  if (!response.ok) {
    problem = data && (data.detail || data.title || data.error_description)
      ? `${data.title || 'Error'} (${response.status}): ${data.detail || data.error_description || ''}`
      : `Error ${response.status}`;
    if (data && data.request_id) problem += ` [request ${data.request_id}]`;
  }
  return { status: response.status, ok: response.ok, data, tree, problem };
}

function notice(text, kind = 'info') {
  const el = byId('notice');
  clear(el);
  if (!text) { el.hidden = true; return; }
  el.className = kind;
  appendText(el, text, false);
  el.hidden = false;
}

// ------------------------------------------------------ signing in/out

async function signIn(event) {
  event.preventDefault();
  const error = byId('signin-error');
  error.hidden = true;
  const username = byId('signin-username').value.trim();
  const password = byId('signin-password').value;
  if (!username || !password) {
    clear(error).append('Enter your username and password.');
    error.hidden = false;
    return;
  }
  byId('signin-submit').disabled = true;
  const r = await api('POST', '/auth/login', { username, password }, { auth: false });
  byId('signin-submit').disabled = false;
  byId('signin-password').value = '';
  if (!r.ok) {
    clear(error);
    appendText(error, r.status === 401 ? 'Wrong username or password.' : r.problem, false);
    error.hidden = false;
    return;
  }
  keepTokens(r.data);
  session.sessionId = r.data.session_id;
  const me = await api('GET', '/me');
  if (!me.ok) {
    signedOut(me.problem);
    return;
  }
  session.me = me.data;
  signedIn();
}

/** Keeps a token pair in memory and schedules its refresh a minute
 * before the access token expires. */
function keepTokens(pair) {
  session.access = pair.access_token;
  session.refresh = pair.refresh_token;
  clearTimeout(session.refreshTimer);
  const inMs = Math.max(10, Number(pair.expires_in) - 60) * 1000;
  session.refreshTimer = setTimeout(refreshTokens, inMs);
}

/** Refreshes the pair once, however many requests ask at the same time
 * (a refresh token is single use: a second use would end the session). */
function refreshTokens() {
  if (!session.refreshing) {
    session.refreshing = (async () => {
      const r = await api('POST', '/auth/refresh', { refresh_token: session.refresh }, { auth: false });
      session.refreshing = null;
      if (!r.ok) return false;
      keepTokens(r.data);
      return true;
    })();
  }
  return session.refreshing;
}

async function signOut() {
  if (session.sessionId) {
    await api('DELETE', `/auth/sessions/${encodeURIComponent(session.sessionId)}`);
  }
  signedOut('Signed out: your session has ended.');
}

/** Forgets every token and shows the sign-in form. */
function signedOut(message) {
  clearTimeout(session.refreshTimer);
  Object.assign(session, { access: null, refresh: null, sessionId: null, me: null, refreshTimer: null });
  runsView.workspaces = null;
  for (const page of document.querySelectorAll('section.page')) page.hidden = true;
  byId('nav').hidden = true;
  byId('whoami').hidden = true;
  byId('signout').hidden = true;
  byId('signin').hidden = false;
  document.body.dataset.signedIn = 'false';
  if (location.hash) history.replaceState(null, '', location.pathname);
  notice(message);
}

function signedIn() {
  const me = session.me;
  byId('signin').hidden = true;
  const who = clear(byId('whoami'));
  who.append(safe(me.username, 'name'), ` · ${(me.roles || []).join(', ') || 'no role'}`);
  who.hidden = false;
  byId('signout').hidden = false;
  for (const link of byId('nav').querySelectorAll('a')) {
    link.hidden = link.dataset.role === 'admin' && !isAdmin();
  }
  byId('nav').hidden = false;
  document.body.dataset.signedIn = 'true';
  notice('');
  const start = isApprover() ? 'approvals' : 'runs';
  if (location.hash.slice(1) && PAGES[location.hash.slice(1)]) show(location.hash.slice(1));
  else location.hash = start;
}

const hasRole = (role) => (session.me?.roles || []).includes(role);
const isAdmin = () => hasRole('admin');
const isApprover = () => hasRole('approver') || isAdmin();

// ---------------------------------------------------------- pages

const PAGES = {
  approvals: loadApprovals,
  runs: loadRuns,
  agents: loadAgents,
  audit: loadAudit,
  health: loadHealth,
  sessions: loadSessions,
};

/** Shows one page and loads its data; records on the section how long
 * that took (`data-load-ms`), which the browser tests report. */
async function show(name) {
  if (!session.access) return;
  const load = PAGES[name];
  if (!load) return;
  const started = performance.now();
  for (const page of document.querySelectorAll('section.page')) page.hidden = page.id !== `page-${name}`;
  for (const link of byId('nav').querySelectorAll('a')) {
    link.classList.toggle('current', link.dataset.page === name);
  }
  const section = byId(`page-${name}`);
  section.dataset.state = 'loading';
  try {
    await load(section);
  } finally {
    section.dataset.loadMs = (performance.now() - started).toFixed(1);
    section.dataset.state = 'loaded';
  }
}

function failed(container, r) {
  container.append(h('p', { class: 'error' }, r.problem));
}

function time(rfc3339) {
  if (!rfc3339) return '';
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? String(rfc3339) : d.toLocaleString();
}

function relative(rfc3339) {
  const ms = new Date(rfc3339).getTime() - Date.now();
  if (Number.isNaN(ms)) return '';
  const abs = Math.abs(ms);
  const units = [[86400000, 'd'], [3600000, 'h'], [60000, 'min']];
  let text = 'now';
  for (const [size, unit] of units) {
    if (abs >= size) { text = `${Math.floor(abs / size)} ${unit}`; break; }
  }
  if (text === 'now') return 'now';
  return ms > 0 ? `in ${text}` : `${text} ago`;
}

function badge(text) {
  return h('span', { class: `badge ${String(text).toLowerCase()}` }, text);
}

function field(label, value) {
  return h('div', { class: 'field' }, h('span', { class: 'label' }, label), value);
}

// -------------------------------------------------------- approvals

async function loadApprovals(section) {
  const pending = clear(byId('pending'));
  const decided = clear(byId('decided'));
  if (!isApprover()) {
    pending.append(h('p', { class: 'hint' }, 'Approving needs the approver or admin role, which you do not have.'));
    return;
  }
  const statuses = ['APPROVED', 'REJECTED', 'USED', 'EXPIRED'];
  const [open, ...done] = await Promise.all([
    api('GET', '/agents/proposals?status=PENDING&limit=100'),
    ...statuses.map((s) => api('GET', `/agents/proposals?status=${s}&limit=20`)),
  ]);
  if (!open.ok) { failed(pending, open); return; }
  const items = open.data.proposals || [];
  if (items.length === 0) pending.append(h('p', { class: 'hint', id: 'no-pending' }, 'Nothing waits for approval.'));
  items.forEach((p, k) => pending.append(proposalCard(p, at(open.tree, 'proposals', k), true)));

  const rows = [];
  for (const r of done) {
    if (!r.ok) { failed(decided, r); continue; }
    (r.data.proposals || []).forEach((p, k) => rows.push([p, at(r.tree, 'proposals', k)]));
  }
  rows.sort((a, b) => String(b[0].created_at).localeCompare(String(a[0].created_at)));
  if (rows.length === 0) decided.append(h('p', { class: 'hint' }, 'No decided proposals yet.'));
  for (const [p, tree] of rows.slice(0, 40)) decided.append(proposalCard(p, tree, false));
}

/** What a proposal asks for: the tool's arguments or the run's input. */
function proposalInput(p, tree) {
  return p.kind === 'tool_call' ? at(tree, 'arguments') : at(tree, 'input');
}

function proposalFacts(p) {
  const what = p.kind === 'tool_call' ? ['Tool', safe(p.tool, 'mono')] : ['Action', safe(p.action, 'mono')];
  return h('div', { class: 'facts' },
    field('Agent', h('span', {}, safe(p.agent_id, 'mono'), ' ', badge(p.agent_maturity || '?'))),
    field('Workspace', safe(p.workspace_id, 'mono')),
    field(what[0], what[1]),
    field('Requested by', safe(p.requested_by, 'mono')),
    field('Created', time(p.created_at)),
    field('Expires', `${time(p.expires_at)} (${relative(p.expires_at)})`),
    p.decided_by ? field('Decided by', safe(p.decided_by, 'mono')) : null,
    p.reason ? field('Reason', safe(p.reason)) : null,
    p.job_id ? field('Job', safe(p.job_id, 'mono')) : null,
    p.kind === 'tool_call' ? field('Arguments SHA-256', safe(p.arguments_sha256, 'mono hash')) : null,
  );
}

function proposalCard(p, tree, actionable) {
  const { box, found } = canonicalInput(proposalInput(p, tree));
  const card = h('article', {
    class: `card proposal${found ? ' has-invisible' : ''}`,
    'data-proposal-id': p.proposal_id,
    'data-status': p.status,
    'data-kind': p.kind || 'run',
  },
  h('header', {},
    badge(p.kind === 'tool_call' ? 'tool call' : 'run'), ' ',
    badge(p.status), ' ',
    safe(p.kind === 'tool_call' ? p.tool : p.action, 'title mono')),
  proposalFacts(p),
  h('h3', {}, p.kind === 'tool_call' ? 'Arguments (canonical JSON)' : 'Input'),
  box);
  if (actionable && p.status === 'PENDING') {
    const approve = h('button', { type: 'button', class: 'approve' }, 'Approve…');
    const reject = h('button', { type: 'button', class: 'reject danger' }, 'Reject…');
    approve.addEventListener('click', () => decide(p, tree, 'approve'));
    reject.addEventListener('click', () => decide(p, tree, 'reject'));
    card.append(h('div', { class: 'actions' }, approve, reject));
  }
  return card;
}

/** Asks for confirmation, repeating exactly what will run, then decides. */
async function decide(p, tree, verdict) {
  const what = p.kind === 'tool_call' ? `the tool call ${p.tool}` : `the run of ${p.action}`;
  const summary = h('div', {},
    h('p', {}, verdict === 'approve'
      ? `Approving lets agent ${p.agent_id} make ${what} with exactly this input:`
      : `Rejecting refuses ${what} by agent ${p.agent_id}:`),
    proposalFacts(p),
    canonicalInput(proposalInput(p, tree)).box);
  const reason = await confirmDialog({
    title: verdict === 'approve' ? 'Approve this proposal?' : 'Reject this proposal?',
    body: summary,
    ok: verdict === 'approve' ? 'Approve' : 'Reject',
    danger: verdict === 'reject',
    withReason: true,
  });
  if (reason === null) return;
  const body = reason ? { reason } : {};
  const r = await api('POST', `/agents/proposals/${encodeURIComponent(p.proposal_id)}/${verdict}`, body);
  if (!r.ok) {
    notice(r.problem, 'error');
  } else if (verdict === 'approve' && r.data.job_id) {
    notice(`Approved: job ${r.data.job_id} is ${r.data.status}.`);
  } else {
    notice(`${verdict === 'approve' ? 'Approved' : 'Rejected'}: proposal ${p.proposal_id} is ${r.data.status}.`);
  }
  await show('approvals');
}

// ------------------------------------------------- confirmation dialog

/** Shows the dialog; resolves to the reason typed ('' for none) when
 * confirmed, `null` when cancelled. */
function confirmDialog({ title, body, ok, danger, withReason }) {
  const dialog = byId('confirm');
  clear(byId('confirm-title')).append(title);
  clear(byId('confirm-summary')).append(body);
  const reason = byId('confirm-reason');
  reason.value = '';
  reason.hidden = !withReason;
  byId('confirm-reason-label').hidden = !withReason;
  const okButton = byId('confirm-ok');
  okButton.textContent = ok;
  okButton.className = danger ? 'danger' : '';
  return new Promise((resolve) => {
    const done = (value) => {
      okButton.removeEventListener('click', onOk);
      byId('confirm-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onOk = () => done(reason.value.trim());
    const onCancel = (event) => { event.preventDefault(); done(null); };
    okButton.addEventListener('click', onOk);
    byId('confirm-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
  });
}

// -------------------------------------------------- runs, tool calls

const RUN_STATUSES = ['', 'AWAITING_APPROVAL', 'PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'REJECTED'];
const CALL_STATUSES = ['', 'ALLOWED', 'AWAITING_APPROVAL', 'REJECTED', 'EXPIRED'];
const runsView = { next: null, workspaces: null };

async function workspacesIKnow() {
  const known = new Set(session.me?.workspaces || []);
  if (isAdmin()) {
    const r = await api('GET', '/agents');
    if (r.ok) for (const a of r.data.agents || []) for (const w of a.workspaces || []) known.add(w);
  }
  return [...known].sort();
}

function fillStatuses() {
  const kind = byId('runs-kind').value;
  const select = clear(byId('runs-status'));
  for (const s of kind === 'runs' ? RUN_STATUSES : CALL_STATUSES) {
    select.append(h('option', { value: s }, s || 'any'));
  }
}

async function loadRuns() {
  const select = byId('runs-workspace');
  if (runsView.workspaces === null) {
    runsView.workspaces = await workspacesIKnow();
    clear(select);
    for (const w of runsView.workspaces) select.append(h('option', { value: w }, w));
    fillStatuses();
  }
  await listRuns(false);
}

async function listRuns(more) {
  const tbody = byId('runs-table').querySelector('tbody');
  const thead = clear(byId('runs-table').querySelector('thead'));
  const kind = byId('runs-kind').value;
  const workspace = byId('runs-workspace').value;
  if (!more) { clear(tbody); runsView.next = null; byId('run-detail').hidden = true; }
  thead.append(h('tr', {}, h('th', {}, kind === 'runs' ? 'Job' : 'Call'), h('th', {}, 'Agent'),
    h('th', {}, kind === 'runs' ? 'Action' : 'Tool'), h('th', {}, 'Status'), h('th', {}, 'Created')));
  if (!workspace) {
    tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'You are a member of no workspace.')));
    return;
  }
  const params = new URLSearchParams({ workspace_id: workspace, limit: '50' });
  const status = byId('runs-status').value;
  if (status) params.set('status', status);
  if (more && runsView.next) params.set('next', runsView.next);
  const r = await api('GET', `/agents/${kind}?${params}`);
  if (!r.ok) {
    tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'error' }, r.problem)));
    return;
  }
  const items = (kind === 'runs' ? r.data.runs : r.data.tool_calls) || [];
  if (items.length === 0 && !more) {
    tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'Nothing here yet.')));
  }
  for (const item of items) {
    const id = kind === 'runs' ? item.job_id : item.call_id;
    const row = h('tr', { class: kind === 'runs' ? 'run' : 'tool-call', tabindex: 0, [kind === 'runs' ? 'data-job-id' : 'data-call-id']: id },
      h('td', {}, safe(id, 'mono')),
      h('td', {}, safe(item.agent_id, 'mono')),
      h('td', {}, safe(kind === 'runs' ? item.action : item.tool, 'mono')),
      h('td', { class: 'status' }, badge(item.status)),
      h('td', {}, time(item.created_at)));
    const open = () => (kind === 'runs' ? openJob(id) : openCall(id));
    row.addEventListener('click', open);
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
    tbody.append(row);
  }
  runsView.next = r.data.next || null;
  byId('runs-more').hidden = !runsView.next;
}

/** A job's detail; while it is still to run, read again every second for
 * half a minute, so that an approved job is seen to finish. */
async function openJob(jobId, polls = 0) {
  const box = byId('run-detail');
  const r = await api('GET', `/agents/runs/${encodeURIComponent(jobId)}`);
  clear(box).hidden = false;
  box.dataset.jobId = jobId;
  if (!r.ok) { failed(box, r); return; }
  const job = r.data;
  box.dataset.status = job.status;
  box.append(h('h2', {}, 'Job ', safe(job.job_id, 'mono')),
    h('div', { class: 'facts' },
      field('Status', h('span', { class: 'status' }, badge(job.status))),
      field('Agent', safe(job.agent_id, 'mono')),
      field('Workspace', safe(job.workspace_id, 'mono')),
      field('Action', safe(job.action, 'mono')),
      field('Created', time(job.created_at)),
      field('Updated', time(job.updated_at))));
  if (job.result !== undefined) box.append(h('h3', {}, 'Result'), h('div', { class: 'result' }, jsonBlock(at(r.tree, 'result')).pre));
  if (job.error !== undefined) box.append(h('h3', {}, 'Error'), h('div', { class: 'job-error' }, jsonBlock(at(r.tree, 'error')).pre));
  for (const row of byId('runs-table').querySelectorAll('tr.run')) {
    if (row.dataset.jobId === jobId) clear(row.querySelector('.status')).append(badge(job.status));
  }
  if (['PENDING', 'RUNNING'].includes(job.status) && polls < 30) {
    setTimeout(() => { if (!box.hidden && box.dataset.jobId === jobId) openJob(jobId, polls + 1); }, 1000);
  }
}

async function openCall(callId) {
  const box = byId('run-detail');
  const r = await api('GET', `/agents/tool-calls/${encodeURIComponent(callId)}`);
  clear(box).hidden = false;
  box.dataset.jobId = '';
  if (!r.ok) { failed(box, r); return; }
  const c = r.data;
  box.append(h('h2', {}, 'Tool call ', safe(c.call_id, 'mono')),
    h('div', { class: 'facts' },
      field('Status', badge(c.status)),
      field('Decision', safe(c.decision)),
      field('Agent', safe(c.agent_id, 'mono')),
      field('Workspace', safe(c.workspace_id, 'mono')),
      field('Tool', safe(c.tool, 'mono')),
      field('Arguments SHA-256', safe(c.arguments_sha256, 'mono hash')),
      c.proposal_id ? field('Proposal', safe(c.proposal_id, 'mono')) : null,
      field('Created', time(c.created_at))));
  if (c.outcome !== undefined) box.append(h('h3', {}, 'Outcome'), jsonBlock(at(r.tree, 'outcome')).pre);
}

// ------------------------------------------------------------ agents

async function loadAgents() {
  const tbody = clear(byId('agents-table').querySelector('tbody'));
  const r = await api('GET', '/agents');
  if (!r.ok) { tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'error' }, r.problem))); return; }
  for (const a of r.data.agents || []) {
    const button = h('button', { type: 'button', class: a.enabled ? 'disable danger' : 'enable' },
      a.enabled ? 'Disable…' : 'Enable…');
    button.addEventListener('click', () => toggleAgent(a));
    tbody.append(h('tr', { class: 'agent', 'data-agent-id': a.agent_id, 'data-enabled': String(a.enabled) },
      h('td', {}, safe(a.agent_id, 'mono')),
      h('td', {}, safe(a.agent_type)),
      h('td', {}, badge(a.maturity)),
      h('td', { class: 'enabled' }, badge(a.enabled ? 'enabled' : 'disabled')),
      h('td', {}, (a.workspaces || []).map((w, k) => [k ? ', ' : '', safe(w, 'mono')])),
      h('td', {}, button)));
  }
}

async function toggleAgent(agent) {
  const disabling = agent.enabled;
  const body = h('p', {}, disabling
    ? `Disable agent ${agent.agent_id}? Its runs, tool calls, approvals and delegated tokens are refused from the next request on, and its queued jobs do not run. Approvals it held stay void after it is enabled again.`
    : `Enable agent ${agent.agent_id}? It may run again at maturity ${agent.maturity}; approvals voided by disabling it stay void.`);
  const reason = await confirmDialog({
    title: disabling ? 'Disable this agent?' : 'Enable this agent?',
    body,
    ok: disabling ? 'Disable' : 'Enable',
    danger: disabling,
    withReason: true,
  });
  if (reason === null) return;
  const r = await api('POST', `/agents/${encodeURIComponent(agent.agent_id)}/${disabling ? 'disable' : 'enable'}`,
    reason ? { reason } : {});
  notice(r.ok ? `Agent ${agent.agent_id} is ${r.data.enabled ? 'enabled' : 'disabled'}.` : r.problem, r.ok ? 'info' : 'error');
  await show('agents');
}

// ------------------------------------------------------------- audit

const auditView = { next: null };

async function loadAudit() {
  await searchAudit(false);
}

async function searchAudit(more) {
  const tbody = byId('audit-table').querySelector('tbody');
  if (!more) { clear(tbody); auditView.next = null; }
  const params = new URLSearchParams({ since: byId('audit-since').value, limit: '50' });
  const actor = byId('audit-actor').value.trim();
  const type = byId('audit-type').value.trim();
  if (actor) params.set('actor', actor);
  if (type) params.set('type', type);
  if (more && auditView.next) params.set('next', auditView.next);
  const r = await api('GET', `/audit?${params}`);
  if (!r.ok) { tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'error' }, r.problem))); return; }
  const events = r.data.events || [];
  if (events.length === 0 && !more) tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'hint' }, 'No event matches.')));
  events.forEach((e, k) => {
    tbody.append(h('tr', { class: 'event', 'data-event-type': e.event_type },
      h('td', { class: 'nowrap' }, time(e.at)),
      h('td', {}, safe(e.event_type, 'mono')),
      h('td', {}, badge(e.severity)),
      h('td', {}, safe(e.actor, 'mono')),
      h('td', {}, safe(e.subject ?? '', 'mono')),
      h('td', {}, origin(e.origin)),
      h('td', {}, jsonBlock(at(r.tree, 'events', k, 'details')).pre)));
  });
  auditView.next = r.data.next || null;
  byId('audit-next').hidden = !auditView.next;
}

/** An event's origin in one line: its kind, then what traces it. */
function origin(o) {
  if (!o || typeof o !== 'object') return '';
  const parts = ['ip', 'request_id', 'operator', 'message_id', 'rule']
    .filter((k) => o[k] !== undefined)
    .map((k) => `${k}=${o[k]}`);
  return safe([o.kind, ...parts].join(' '), 'mono small');
}

// ------------------------------------------------------------ health

const SVG = 'http://www.w3.org/2000/svg';

async function loadHealth() {
  const [report, chart] = await Promise.all([api('GET', '/security/health'), uptimeChart('24h')]);
  const status = clear(byId('health-status'));
  const tbody = clear(byId('health-checks').querySelector('tbody'));
  const summary = clear(byId('uptime-summary'));
  // 503 carries the same report when a required check fails.
  if (!report.data || !report.data.checks) {
    tbody.append(h('tr', {}, h('td', { colspan: 4, class: 'error' }, report.problem)));
  } else {
    status.append(report.data.status);
    status.className = `badge ${report.data.status}`;
    for (const c of report.data.checks) {
      tbody.append(h('tr', { class: 'check' },
        h('td', {}, safe(c.name, 'mono')), h('td', {}, badge(c.status)),
        h('td', {}, safe(c.detail ?? '')), h('td', { class: 'nowrap' }, `${c.latency_ms ?? '?'} ms`)));
    }
    const u = report.data.uptime;
    if (u) {
      summary.append(`Up ${u.pct_24h}% (24 h), ${u.pct_7d}% (7 d), ${u.pct_30d}% (30 d); no sample ${u.unknown_pct_24h}% (24 h).`);
      if (u.last_incident) {
        summary.append(` Last incident: ${time(u.last_incident.start)} to ${u.last_incident.end ? time(u.last_incident.end) : 'now'} (${(u.last_incident.checks || []).join(', ')}).`);
      }
    }
  }
  return chart;
}

/** Draws the uptime of `window` as bars: green up, red down, grey no
 * sample, one per bucket, with the bucket's numbers as its tooltip. */
async function uptimeChart(window) {
  for (const b of byId('uptime-windows').querySelectorAll('button')) {
    b.classList.toggle('current', b.dataset.window === window);
  }
  const box = clear(byId('uptime-chart-box'));
  const r = await api('GET', `/security/health/uptime?window=${window}`);
  if (!r.ok) { failed(box, r); return; }
  const buckets = r.data.buckets || [];
  const width = 720;
  const height = 160;
  const bar = width / Math.max(1, buckets.length);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('id', 'uptime-chart');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 20}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `uptime over ${window}`);
  svg.dataset.window = r.data.window;
  const rect = (cls, x, y, w, hgt, tip) => {
    const el = document.createElementNS(SVG, 'rect');
    for (const [k, v] of Object.entries({ x, y, width: w, height: hgt })) el.setAttribute(k, String(Math.max(0, v)));
    el.setAttribute('class', cls);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = tip;
    el.append(title);
    return el;
  };
  buckets.forEach((b, k) => {
    const up = Number(b.up_pct);
    const unknown = Number(b.unknown_pct);
    const down = Math.max(0, 100 - up - unknown);
    const x = k * bar + 1;
    const w = bar - 2;
    const tip = `${time(b.start)}: up ${up}%, down ${down.toFixed(3)}%, no sample ${unknown}%`;
    const hUp = (height * up) / 100;
    const hDown = (height * down) / 100;
    const hUnknown = height - hUp - hDown;
    svg.append(rect('bar up', x, height - hUp, w, hUp, tip));
    svg.append(rect('bar down', x, height - hUp - hDown, w, hDown, tip));
    svg.append(rect('bar unknown', x, 0, w, hUnknown, tip));
  });
  const label = (x, text, anchor) => {
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(height + 15));
    t.setAttribute('text-anchor', anchor);
    t.setAttribute('class', 'axis');
    t.textContent = text;
    return t;
  };
  if (buckets.length) {
    svg.append(label(0, time(buckets[0].start), 'start'), label(width, 'now', 'end'));
  }
  box.append(svg);
}

// ---------------------------------------------------------- sessions

async function loadSessions() {
  const tbody = clear(byId('sessions-table').querySelector('tbody'));
  const r = await api('GET', '/auth/sessions');
  if (!r.ok) { tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'error' }, r.problem))); return; }
  for (const s of r.data.sessions || []) {
    const end = h('button', { type: 'button', class: 'end-session danger' }, s.current ? 'Sign out' : 'End');
    end.addEventListener('click', () => endSession(s));
    tbody.append(h('tr', { class: 'session', 'data-session-id': s.session_id, 'data-current': String(!!s.current) },
      h('td', {}, safe(s.session_id, 'mono'), s.current ? [' ', badge('this one')] : null),
      h('td', {}, time(s.created_at)), h('td', {}, time(s.last_used_at)), h('td', {}, time(s.expires_at)),
      h('td', {}, safe(s.ip ?? '', 'mono')), h('td', {}, safe(s.user_agent ?? '', 'small')), h('td', {}, end)));
  }
}

async function endSession(s) {
  if (s.current) { await signOut(); return; }
  const r = await api('DELETE', `/auth/sessions/${encodeURIComponent(s.session_id)}`);
  notice(r.ok ? `Session ${s.session_id} ended.` : r.problem, r.ok ? 'info' : 'error');
  await show('sessions');
}

async function endAllSessions() {
  const ok = await confirmDialog({
    title: 'End all your sessions?',
    body: h('p', {}, 'Every token of yours stops working at once, on every device, this one included.'),
    ok: 'End all',
    danger: true,
    withReason: false,
  });
  if (ok === null) return;
  const r = await api('POST', '/auth/revoke-all', {});
  if (!r.ok) { notice(r.problem, 'error'); return; }
  signedOut(`All your sessions ended (${r.data.revoked_count}).`);
}

// ------------------------------------------------------------- start

function start() {
  byId('signin-form').addEventListener('submit', signIn);
  byId('signout').addEventListener('click', signOut);
  // A notice belongs to the page it was given on: moving on clears it.
  window.addEventListener('hashchange', () => { notice(''); show(location.hash.slice(1)); });
  for (const b of document.querySelectorAll('[data-reload]')) {
    b.addEventListener('click', () => show(location.hash.slice(1)));
  }
  byId('runs-form').addEventListener('submit', (e) => { e.preventDefault(); show('runs'); });
  byId('runs-kind').addEventListener('change', fillStatuses);
  byId('runs-more').addEventListener('click', () => listRuns(true));
  byId('audit-form').addEventListener('submit', (e) => { e.preventDefault(); show('audit'); });
  byId('audit-next').addEventListener('click', () => searchAudit(true));
  for (const b of byId('uptime-windows').querySelectorAll('button')) {
    b.addEventListener('click', () => uptimeChart(b.dataset.window));
  }
  byId('end-all-sessions').addEventListener('click', endAllSessions);
  // A reload starts signed out: nothing was kept.
  if (location.hash) history.replaceState(null, '', location.pathname);
  document.body.dataset.ready = 'true';
  byId('signin-username').focus();
}

start();
