// The auditor console (shared/edge/src/audit/console.rs): signs in with OpenID Connect
// (authorization code with PKCE, RFC 7636), then reads /audit/records, /audit/verify and
// the access reports (/audit/access…) with the access token. The token lives in this script's memory only: a reload or a
// sign-out forgets it. Only the one-time PKCE verifier, state and nonce wait in
// sessionStorage during the round trip to the issuer, and are removed on return.
'use strict';

(() => {
  const base = new URL('.', location.href); // …/audit/
  const redirectUri = new URL('ui', base).href;
  const PENDING = 'scimgw-console-pending';
  const SIGNED_OUT = 'signed-out';
  const EXPORT_PAGE = 1000; // the API's largest page
  const TIMELINE_CAP = 5000;
  const VERIFY_CALLS_CAP = 40; // each call covers up to six hours of records

  const session = { token: null, idToken: null, subject: null };
  let config = null;
  let discovery = null;
  // The search shown: its filters, the cursors of the pages seen, where it stands.
  const view = { filters: null, cursors: [null], page: 0, next: null, problems: new Map(), generation: 0 };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props);
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  };

  // ---------------------------------------------------------------------------------
  // Messages

  function say(text, kind = 'error') {
    const box = $('message');
    box.textContent = text;
    box.className = kind === 'info' ? 'info' : '';
    box.hidden = false;
  }
  function unsay() {
    $('message').hidden = true;
    $('message').textContent = '';
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || `HTTP ${status}`);
      this.status = status;
      this.code = code;
    }
  }

  // Why the audit API refused, in words an auditor can act on.
  function explain(error) {
    if (!(error instanceof ApiError)) return `The request failed: ${error.message}`;
    const detail = `${error.status} ${error.code || ''}: ${error.message}`.replace(' :', ':');
    if (error.status === 401 && !session.token) {
      return `Not signed in: the audit API answered ${detail}. Sign in first.`;
    }
    if (error.status === 401) {
      return `The audit API refused the sign-in token (${detail}). It may have expired: sign in again.`;
    }
    if (error.status === 403) {
      return `Signed in, but not allowed to read the audit trail (${detail}). ` +
        'An auditor needs the auditors\u2019 group and the audit scope.';
    }
    return `The audit API answered ${detail}`;
  }

  // ---------------------------------------------------------------------------------
  // Calls to the audit API

  async function api(path, params, accept) {
    const url = new URL(path, base);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, value);
    }
    const headers = {};
    if (session.token) headers.Authorization = `Bearer ${session.token}`;
    if (accept) headers.Accept = accept;
    const response = await fetch(url, { headers, cache: 'no-store', credentials: 'omit' });
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, body.error, body.message);
    }
    return response;
  }

  // ---------------------------------------------------------------------------------
  // Sign-in: authorization code with PKCE (RFC 7636, S256), state and nonce

  function randomText(bytes) {
    const data = crypto.getRandomValues(new Uint8Array(bytes));
    return base64url(data);
  }
  function base64url(bytes) {
    let text = '';
    for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function claimsOf(jwt) {
    const part = (jwt || '').split('.')[1] || '';
    const text = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  async function loadConfig() {
    const response = await fetch(new URL('ui/config.json', base), { cache: 'no-store' });
    config = await response.json();
    if (!config.issuer || !config.client_id) {
      config = null;
      return;
    }
    const issuer = config.issuer.replace(/\/$/, '');
    const found = await fetch(`${issuer}/.well-known/openid-configuration`, { cache: 'no-store' });
    if (!found.ok) throw new Error(`the issuer's discovery document answered ${found.status}`);
    discovery = await found.json();
    if (discovery.issuer !== config.issuer) throw new Error('the issuer\u2019s discovery document names another issuer');
  }

  async function signIn() {
    if (!discovery) {
      say('The console is not set up for sign-in: the audit API has no console client id (AuditConsoleClientId).');
      return;
    }
    const verifier = randomText(32);
    const pending = { state: randomText(16), nonce: randomText(16), verifier };
    sessionStorage.setItem(PENDING, JSON.stringify(pending));
    const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const url = new URL(discovery.authorization_endpoint);
    const params = {
      response_type: 'code', client_id: config.client_id, redirect_uri: redirectUri,
      scope: config.scope, state: pending.state, nonce: pending.nonce,
      code_challenge: challenge, code_challenge_method: 'S256',
    };
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    location.assign(url.href);
  }

  // Back from the issuer: check the state, trade the code for tokens, check the nonce.
  async function finishSignIn() {
    const query = new URLSearchParams(location.search);
    if (query.get('state') === SIGNED_OUT && !query.has('code')) {
      history.replaceState(null, '', redirectUri);
      say('Signed out, here and at the issuer.', 'info');
      return;
    }
    if (!query.has('code') && !query.has('error')) return;
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
    sessionStorage.removeItem(PENDING);
    history.replaceState(null, '', redirectUri);
    if (query.has('error')) {
      say(`The issuer refused the sign-in: ${query.get('error')} ${query.get('error_description') || ''}`);
      return;
    }
    if (!pending || query.get('state') !== pending.state) {
      say('The sign-in answer does not belong to a sign-in started here (state mismatch); sign in again.');
      return;
    }
    const response = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: query.get('code'), redirect_uri: redirectUri,
        client_id: config.client_id, code_verifier: pending.verifier,
      }),
      cache: 'no-store',
      credentials: 'omit',
    });
    const tokens = await response.json().catch(() => ({}));
    if (!response.ok || !tokens.access_token) {
      say(`The issuer did not hand out a token: ${tokens.error || response.status} ${tokens.error_description || ''}`);
      return;
    }
    // The ID token came straight from the token endpoint (OpenID Connect Core 3.1.3.7):
    // its issuer, audience and nonce are checked here; the audit API checks the access
    // token's signature on every call.
    let subject = null;
    if (tokens.id_token) {
      const claims = claimsOf(tokens.id_token);
      const audience = [].concat(claims.aud);
      if (claims.iss !== config.issuer || !audience.includes(config.client_id) || claims.nonce !== pending.nonce) {
        say('The ID token does not match this sign-in (issuer, audience or nonce); sign in again.');
        return;
      }
      subject = claims.preferred_username || claims.email || claims.sub;
    }
    session.token = tokens.access_token;
    session.idToken = tokens.id_token || null;
    session.subject = subject || 'an auditor';
    showSession();
  }

  function signOut() {
    const idToken = session.idToken;
    session.token = null;
    session.idToken = null;
    session.subject = null;
    clearResults();
    showSession();
    say('Signed out: the token is forgotten.', 'info');
    if (discovery && discovery.end_session_endpoint && idToken) {
      const url = new URL(discovery.end_session_endpoint);
      url.searchParams.set('id_token_hint', idToken);
      url.searchParams.set('post_logout_redirect_uri', redirectUri);
      url.searchParams.set('state', SIGNED_OUT);
      location.assign(url.href);
    }
  }

  function showSession() {
    const signedIn = Boolean(session.token);
    $('who').textContent = signedIn ? `Signed in as ${session.subject}.` : 'Not signed in.';
    $('sign-in').hidden = signedIn;
    $('sign-out').hidden = !signedIn;
  }

  // ---------------------------------------------------------------------------------
  // Search, paged by the API's cursor

  function readFilters() {
    const form = new FormData($('search'));
    const time = (name) => {
      const value = form.get(name);
      return value ? new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
    };
    return {
      target: form.get('target').trim(), actor: form.get('actor').trim(),
      since: time('since'), until: time('until'),
      outcome: form.get('outcome'), operation: form.get('operation'),
      limit: form.get('limit'),
    };
  }

  function clearResults() {
    view.generation += 1;
    view.problems = new Map();
    $('results').hidden = true;
    $('timeline').hidden = true;
    $('access').hidden = true;
    $('verdict').hidden = true;
    $('records').tBodies[0].replaceChildren();
    $('export-link').hidden = true;
  }

  async function search(event) {
    event.preventDefault();
    unsay();
    clearResults();
    view.filters = readFilters();
    view.cursors = [null];
    view.page = 0;
    const shown = await showPage();
    if (shown) verifyPeriod(view.generation);
  }

  async function showPage() {
    const generation = view.generation;
    let body;
    try {
      const response = await api('records', { ...view.filters, cursor: view.cursors[view.page] });
      body = await response.json();
    } catch (error) {
      say(explain(error));
      return false;
    }
    if (generation !== view.generation) return false;
    view.next = body.next_cursor;
    const rows = body.records.map(recordRow);
    $('records').tBodies[0].replaceChildren(...rows);
    const first = view.page * Number(view.filters.limit);
    $('records-caption').textContent = body.records.length
      ? `Records ${first + 1} to ${first + body.records.length}, oldest first${view.next ? '; more on the next page' : ''}.`
      : 'No record matches.';
    $('page-number').textContent = `Page ${view.page + 1}`;
    $('prev-page').disabled = view.page === 0;
    $('next-page').disabled = !view.next;
    $('timeline').hidden = true;
    $('results').hidden = false;
    markProblems();
    return true;
  }

  async function turnPage(step) {
    if (step > 0) {
      if (!view.next) return;
      view.cursors[view.page + 1] = view.next;
    }
    view.page = Math.max(0, view.page + step);
    if (await showPage()) $('results-heading').focus();
  }

  // A record's time to the second, for reading; the element keeps the full time.
  function timeElement(time) {
    const short = time.replace('T', ' ').replace(/\.\d+/, '');
    return el('time', { dateTime: time, textContent: short, title: time });
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function subjectLabel(target) {
    return target.name || target.external_id || target.target_id || '';
  }

  function sourceText(source) {
    switch (source.kind) {
      case 'scim': return `SCIM ${source.method} ${source.path}`;
      case 'event': return `event ${source.event_type || ''} ${source.uuid}`.replace('  ', ' ');
      case 'reconcile': return `reconcile run ${source.run}`;
      case 'read': return `read via ${source.via}`;
      case 'entitlements': return `entitlements run ${source.run} (document ${source.document_version})`;
      default: return source.kind;
    }
  }

  function recordRow(stored) {
    const r = stored.record;
    const label = subjectLabel(r.target);
    const subject = label
      ? el('button', { type: 'button', className: 'link', textContent: label, title: 'Open this subject\u2019s timeline' })
      : '';
    if (label) subject.addEventListener('click', () => showTimeline(r.target));
    const row = el('tr', {},
      el('td', {}, timeElement(r.time)),
      el('td', { textContent: r.operation }),
      el('td', { textContent: r.outcome }),
      el('td', {}, subject),
      el('td', { textContent: r.actor.credential }),
      el('td', { textContent: sourceText(r.source) }),
      el('td', { textContent: String(r.status) + (r.target_status ? ` (IC ${r.target_status})` : '') }),
      el('td', { textContent: r.rule_set_version }),
      el('td', { className: 'integrity' }));
    row.dataset.recordId = stored.id;
    return row;
  }

  // ---------------------------------------------------------------------------------
  // The verify verdict for the period shown, page by page (each call covers at most six
  // hours of records); problem records are marked in the table and the timeline.

  // Verifies from `resume` (where an earlier run stopped) or the search's start; stops
  // after VERIFY_CALLS_CAP calls (each a read noted in the trail), saying so and offering
  // to go on, rather than passing a part of the period off as the whole.
  async function verifyPeriod(generation, resume = null) {
    const box = $('verdict');
    box.className = '';
    box.hidden = false;
    const total = resume ? resume.total : { checked: 0, chains: 0, calls: 0, problems: [], notes: [], first: null, last: null };
    let since = resume ? resume.since : view.filters.since;
    let until = resume ? resume.until : view.filters.until;
    let pending = null;
    box.replaceChildren(el('p', { textContent: 'Verifying the period shown\u2026' }));
    for (let calls = 0; ; calls += 1) {
      if (calls === VERIFY_CALLS_CAP) {
        pending = { total, since, until };
        break;
      }
      let answer;
      try {
        answer = await (await api('verify', { since, until })).json();
      } catch (error) {
        if (generation === view.generation) box.replaceChildren(el('p', { textContent: `Not verified: ${explain(error)}` }));
        return;
      }
      if (generation !== view.generation) return;
      total.calls += 1;
      total.checked += answer.checked;
      total.chains = Math.max(total.chains, answer.chains);
      total.problems.push(...answer.problems);
      total.notes.push(...answer.notes);
      total.first = total.first || answer.since;
      total.last = answer.until;
      if (!answer.next_since) break;
      since = answer.next_since;
      until = answer.requested_until;
      box.firstChild.textContent = `Verifying\u2026 ${plural(total.checked, 'record', 'records')} checked up to ${total.last}.`;
    }
    view.problems = new Map();
    for (const problem of total.problems) {
      if (problem.record_id) view.problems.set(problem.record_id, problem);
    }
    const short = (t) => t.replace(/\.\d+/, '');
    const from = view.filters.since ? `from ${short(total.first)}` : 'from the start of the trail';
    const to = pending || view.filters.until ? short(total.last) : `now (${short(total.last)})`;
    const period = `${from} to ${to}`;
    // Chains are counted per call; over several calls only the records add up.
    const checked = total.calls === 1
      ? `${plural(total.checked, 'record', 'records')} in ${plural(total.chains, 'chain', 'chains')}`
      : plural(total.checked, 'record', 'records');
    const children = [];
    if (total.problems.length === 0) {
      box.className = pending ? '' : 'intact';
      children.push(el('p', {}, el('strong', { textContent: pending ? 'Intact so far. ' : 'Intact. ' }),
        `${checked} checked, ${period}: every record present, unaltered, in order.`));
    } else {
      box.className = 'broken';
      children.push(el('p', {}, el('strong', { textContent: 'Not intact. ' }),
        `${plural(total.problems.length, 'problem', 'problems')} in ${checked} checked, ${period}:`));
      children.push(el('ul', {}, ...total.problems.map((p) => el('li', {},
        el('span', { className: 'flag', textContent: `${p.kind} ${p.subject.replace('_', ' ')}` }),
        ` ${p.record_id || p.seal || p.chain || ''}: ${p.detail}`))));
    }
    if (pending) {
      const more = el('button', { type: 'button', textContent: 'Verify the rest of the period' });
      more.addEventListener('click', () => verifyPeriod(generation, pending));
      children.push(el('p', {}, `The rest of the period, after ${short(total.last)}, is not verified yet. `, more));
    }
    for (const note of total.notes) children.push(el('p', { className: 'hint', textContent: `Note (${note.kind}): ${note.detail}` }));
    box.replaceChildren(...children);
    markProblems();
  }

  function markProblems() {
    const marks = document.querySelectorAll('[data-record-id]');
    for (const node of marks) {
      const problem = view.problems.get(node.dataset.recordId);
      node.classList.toggle('flagged', Boolean(problem));
      const cell = node.querySelector('.integrity');
      if (cell) {
        cell.replaceChildren(problem
          ? el('span', { className: 'flag', textContent: `\u26a0 ${problem.kind}`, title: problem.detail })
          : '');
      }
    }
  }

  // ---------------------------------------------------------------------------------
  // A subject's timeline: every record of one user or group, oldest first

  async function showTimeline(target) {
    unsay();
    const key = target.external_id || target.target_id || target.name;
    const label = subjectLabel(target);
    const records = [];
    let cursor = null;
    try {
      do {
        const body = await (await api('records', { target: key, limit: EXPORT_PAGE, cursor })).json();
        records.push(...body.records);
        cursor = body.next_cursor;
      } while (cursor && records.length < TIMELINE_CAP);
    } catch (error) {
      say(explain(error));
      return;
    }
    $('timeline-heading').textContent = `Timeline of ${target.resource_type || 'subject'} ${label}`;
    $('timeline-summary').textContent = `${plural(records.length, 'record', 'records')}, oldest first` +
      (cursor ? `; the first ${TIMELINE_CAP} only: narrow the search by period for the rest.` : '.');
    $('timeline-list').replaceChildren(...records.map(timelineEntry));
    $('results').hidden = true;
    $('timeline').hidden = false;
    markProblems();
    $('timeline-heading').focus();
  }

  function shown(value) {
    return value === undefined ? '(none)' : JSON.stringify(value);
  }

  function icAnswer(r) {
    if (r.outcome === 'intent') return 'not asked yet: this record comes before the change';
    const calls = plural(r.target_calls, 'call', 'calls');
    return r.target_status ? `${r.target_status} after ${calls}` : calls;
  }

  function timelineEntry(stored) {
    const r = stored.record;
    const facts = [
      ['Source', sourceText(r.source)],
      ['Asked by', r.actor.credential + (r.actor.user_agent ? ` (${r.actor.user_agent})` : '')],
      ['Identity Center answered', icAnswer(r)],
      ['Answered', String(r.status)],
      ['Rule set', r.rule_set_version],
      ['Record', stored.id],
    ];
    if (r.error) facts.push(['Error', r.error]);
    if (r.reason) facts.push(['Reason', r.reason]);
    if (r.membership) facts.push(['Membership', JSON.stringify(r.membership)]);
    const list = el('dl', {});
    for (const [name, value] of facts) list.append(el('dt', { textContent: name }), el('dd', { textContent: value }));
    const changes = (r.changes || []).length
      ? el('table', {},
        el('caption', { textContent: 'Changes' }),
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col', textContent: 'Attribute' }),
          el('th', { scope: 'col', textContent: 'Before' }),
          el('th', { scope: 'col', textContent: 'After' }))),
        el('tbody', {}, ...r.changes.map((c) => el('tr', {},
          el('td', {}, el('code', { textContent: c.attribute })),
          el('td', {}, el('code', { textContent: shown(c.before) })),
          el('td', {}, el('code', { textContent: shown(c.after) }))))))
      : null;
    const item = el('li', {},
      el('h3', {}, timeElement(r.time), ` ${r.operation}: ${r.outcome} `,
        el('span', { className: 'integrity' })),
      list, changes);
    item.dataset.recordId = stored.id;
    return item;
  }

  // ---------------------------------------------------------------------------------
  // Export of the current query, every page

  async function exportQuery(format) {
    unsay();
    const filters = view.filters || readFilters();
    const parts = [];
    let cursor = null;
    let count = 0;
    say('Exporting\u2026', 'info');
    try {
      do {
        const params = { ...filters, limit: EXPORT_PAGE, cursor };
        if (format === 'csv') {
          const response = await api('records', params, 'text/csv');
          let text = await response.text();
          // Each page repeats the header row: keep the first one only.
          if (parts.length) text = text.slice(text.indexOf('\r\n') + 2);
          parts.push(text);
          cursor = response.headers.get('x-next-cursor');
        } else {
          const body = await (await api('records', params)).json();
          parts.push(...body.records.map((r) => `${JSON.stringify(r)}\n`));
          count += body.records.length;
          cursor = body.next_cursor;
        }
      } while (cursor);
    } catch (error) {
      say(explain(error));
      return;
    }
    const type = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
    const name = format === 'csv' ? 'audit-records.csv' : 'audit-records.jsonl';
    const link = $('export-link');
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob(parts, { type }));
    link.download = name;
    link.textContent = `Download ${name} again`;
    link.dataset.format = format;
    link.hidden = false;
    link.click();
    say(`Exported ${format === 'csv' ? 'the query' : `${count} records`} as ${name}.`, 'info');
  }

  // ---------------------------------------------------------------------------------
  // Access reports: who has access as of an instant, gained and lost, leavers

  const ACCESS_CAP = 5000; // rows shown; the CSV export has them all
  const ACCESS = {
    report: {
      path: 'access', from: 'as_of', to: null, fromLabel: 'As of', key: 'rows',
      columns: [['User', 'user_name'], ['Account', 'account_id'], ['Permission set', 'permission_set_name'],
        ['Through group', 'group_name'], ['Since (UTC)', 'since']],
    },
    diff: {
      path: 'access/diff', from: 'from', to: 'to', fromLabel: 'From', key: 'changes',
      columns: [['Change', 'change'], ['User', 'user_name'], ['Account', 'account_id'],
        ['Permission set', 'permission_set_name'], ['Through group', 'group_name'],
        ['Caused by record', 'cause.id'], ['At (UTC)', 'cause.time']],
    },
    leavers: {
      path: 'access/leavers', from: 'since', to: 'until', fromLabel: 'Since', key: 'leavers',
      columns: [['User', 'user_name'], ['Left (UTC)', 'started_at'], ['Started by', 'start'],
        ['Deactivated after (s)', 'deactivation_seconds'], ['Access removed', 'access'],
        ['Over threshold', 'over_threshold']],
    },
  };

  function accessKind() {
    return ACCESS[$('a-kind').value] || ACCESS.report;
  }

  function onKind() {
    const kind = accessKind();
    $('a-from-label').textContent = kind.fromLabel;
    $('a-to').disabled = !kind.to;
  }

  function accessParams(kind) {
    const form = new FormData($('access-form'));
    const time = (name) => {
      const value = form.get(name);
      return value ? new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
    };
    const params = {
      account: form.get('account').replace(/\s+/g, ''),
      permission_set: form.get('permission_set').trim(),
      group: form.get('group').trim(),
      user: form.get('user').trim(),
    };
    // Diff and leavers need a start: an empty one is the epoch (the whole trail).
    params[kind.from] = time('from') || (kind.to ? '1970-01-01T00:00:00Z' : '');
    if (kind.to) params[kind.to] = time('to');
    return params;
  }

  function field(item, path) {
    return path.split('.').reduce((value, key) => (value === null || value === undefined ? value : value[key]), item);
  }

  function accessCell(item, path) {
    const value = field(item, path);
    if (path === 'access') {
      return (value || []).map((a) => `${a.account_id} ${a.permission_set_name || a.permission_set_arn}: ` +
        (a.removed_at ? `after ${a.seconds} s` : 'not yet')).join('; ') || 'none';
    }
    if (value === null || value === undefined) return '\u2013';
    return String(value);
  }

  async function showAccess(event) {
    event.preventDefault();
    unsay();
    const kind = accessKind();
    const params = accessParams(kind);
    const items = [];
    let body = null;
    let cursor = null;
    try {
      do {
        body = await (await api(kind.path, { ...params, limit: EXPORT_PAGE, cursor })).json();
        items.push(...body[kind.key]);
        cursor = body.next_cursor;
      } while (cursor && items.length < ACCESS_CAP);
    } catch (error) {
      say(explain(error));
      return;
    }
    const head = el('tr', {}, ...kind.columns.map(([name]) => el('th', { scope: 'col', textContent: name })));
    $('access-table').tHead.replaceChildren(head);
    $('access-table').tBodies[0].replaceChildren(...items.map((item) => {
      const row = el('tr', {}, ...kind.columns.map(([, path]) => el('td', { textContent: accessCell(item, path) })));
      if (item.over_threshold) row.classList.add('flagged');
      return row;
    }));
    $('access-caption').textContent = `${plural(items.length, 'line', 'lines')}` +
      (cursor ? `; the first ${ACCESS_CAP} only: export CSV for all.` : '.');
    const evidence = body.evidence || {};
    const gaps = (body.gaps || []).length;
    $('access-evidence').textContent = `Rebuilt from ${plural(evidence.records || 0, 'audit record', 'audit records')} ` +
      `before ${evidence.until}, the last ${evidence.head ? evidence.head.id : 'none'}; digest ${evidence.digest}` +
      (gaps ? `. The trail is incomplete in ${plural(gaps, 'place', 'places')}: see the JSON report.` : '.');
    $('access-heading').textContent = $('a-kind').selectedOptions[0].textContent;
    $('access').hidden = false;
    $('results').hidden = true;
    $('timeline').hidden = true;
    $('access-heading').focus();
  }

  async function exportAccess() {
    unsay();
    const kind = accessKind();
    const params = accessParams(kind);
    const parts = [];
    let cursor = null;
    say('Exporting\u2026', 'info');
    try {
      do {
        const response = await api(kind.path, { ...params, format: 'csv', limit: 5000, cursor });
        let text = await response.text();
        if (parts.length) text = text.slice(text.indexOf('\r\n') + 2);
        parts.push(text);
        cursor = response.headers.get('x-next-cursor');
      } while (cursor);
    } catch (error) {
      say(explain(error));
      return;
    }
    const name = `access-${$('a-kind').value}.csv`;
    const link = $('export-link');
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob(parts, { type: 'text/csv' }));
    link.download = name;
    link.textContent = `Download ${name} again`;
    link.hidden = false;
    link.click();
    say(`Exported the report as ${name}.`, 'info');
  }

  // ---------------------------------------------------------------------------------

  async function start() {
    $('a-kind').addEventListener('change', onKind);
    $('access-form').addEventListener('submit', (e) => { showAccess(e).catch((err) => say(explain(err))); });
    $('access-csv').addEventListener('click', () => exportAccess());
    $('sign-in').addEventListener('click', () => { signIn().catch((e) => say(`Sign-in failed: ${e.message}`)); });
    $('sign-out').addEventListener('click', signOut);
    $('search').addEventListener('submit', (e) => { search(e).catch((err) => say(explain(err))); });
    $('prev-page').addEventListener('click', () => turnPage(-1));
    $('next-page').addEventListener('click', () => turnPage(1));
    $('back').addEventListener('click', () => {
      $('timeline').hidden = true;
      $('results').hidden = !view.filters;
      $('results-heading').focus();
    });
    $('export-csv').addEventListener('click', () => exportQuery('csv'));
    $('export-json').addEventListener('click', () => exportQuery('json'));
    try {
      await loadConfig();
    } catch (error) {
      say(`The issuer cannot be reached, so nobody can sign in: ${error.message}`);
      return;
    }
    if (!config) say('The console is not set up for sign-in: the audit API has no console client id (AuditConsoleClientId).');
    try {
      await finishSignIn();
    } catch (error) {
      say(`Sign-in failed: ${error.message}`);
    }
    showSession();
    document.body.dataset.ready = 'true';
  }

  start();
})();
