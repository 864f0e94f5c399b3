// The demo's browser app: plain JavaScript, no framework, no build step.
//
// It never holds a token. POST /auth/login with "Token-Delivery: cookie"
// sets the access token in an HttpOnly cookie and the refresh token in
// another, sent to /auth/token only; every call below sends them with
// credentials: 'same-origin'. What the page knows is how long the access
// token lives (expires_in), to renew it before it expires:
//
//   - a timer refreshes at 80% of its lifetime (at least 1 s before it
//     ends) with POST /auth/token grant_type=refresh_token, the refresh
//     token coming from its cookie;
//   - a call answered 401 refreshes once and is retried once; calls that
//     get 401 together share one refresh (one promise in flight);
//   - a refresh answered 400 or 401 means the session is over (logged
//     out, revoked, expired): the login form comes back.
//
// Server data is written with textContent only (widget and token names
// are user input). Logging out empties every private element, so that
// the back button finds nothing private; a page restored from the
// back/forward cache checks /api/me again before it shows anything.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // The private elements: their children or text go on logout.
  const privateLists = ['widgets', 'devices', 'tokens'];
  const privateTexts = ['whoami', 'roles', 'scopes', 'credential', 'jti', 'countdown', 'token-secret'];

  let me = null; // the last /api/me answer
  let loggedIn = false;
  let expiresAt = 0; // when the access token expires, ms since the epoch; 0: unknown
  let lifetime = 0; // the access token's whole lifetime, ms
  let generation = 0; // counts the tokens issued to this page (logins, refreshes)
  let refreshes = 0; // POST /auth/token requests sent
  let refreshing = null; // the refresh in flight, shared by every caller
  let refreshTimer = 0;
  let refreshTrouble = false; // the error line tells of a failed timed refresh
  let tickTimer = 0;

  // Other tabs of this browser share the cookies: they tell each other
  // of new tokens (so that one tab refreshes, not all), of a login and of
  // a logout.
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel('sessionless-demo') : null;
  const broadcast = (msg) => channel && channel.postMessage(msg);

  // LoggedOut is thrown by api when the session is over; the login form
  // is showing by then.
  class LoggedOut extends Error {}

  // Failure is a refusal of the server, with its words.
  class Failure extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  // failure reads a refusal: problem+json (/api) or an OAuth 2.0 error
  // (/auth).
  async function failure(r) {
    let message = '';
    try {
      const body = await r.json();
      message = body.detail || body.error_description || body.error || '';
    } catch {
      // not JSON
    }
    const retryAfter = parseInt(r.headers.get('Retry-After') || '', 10);
    return new Failure(r.status, message || `the server answered ${r.status}`, Number.isFinite(retryAfter) ? retryAfter : 0);
  }

  function send(method, path, body) {
    // cache: 'no-store': the answers are never stored anyway, and the
    // browser's cache would queue identical GETs behind one another.
    const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  // api sends a request with the cookies. A 401 refreshes the access
  // token once (unless another call renewed it since this one left) and
  // retries once; when the session is over, it shows the login form and
  // throws LoggedOut.
  async function api(method, path, body) {
    const gen = generation;
    let r = await send(method, path, body);
    if (r.status !== 401) {
      return r;
    }
    if (gen === generation && !(await refresh())) {
      throw endSession();
    }
    r = await send(method, path, body);
    if (r.status === 401) {
      throw endSession();
    }
    return r;
  }

  // endSession shows the login form (with a word when the user was in)
  // and returns the LoggedOut to throw.
  function endSession() {
    loggedOut(loggedIn ? 'Your session has ended: sign in again.' : '');
    return new LoggedOut('logged out');
  }

  // refresh renews the access token with the refresh token cookie. Every
  // caller while it runs gets the same promise: true once renewed, false
  // when the session is over; it rejects on a network error or a server
  // failure (the session may still be good).
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        refreshes++;
        const r = await fetch('/auth/token', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=refresh_token',
        });
        if (r.ok) {
          issued(await r.json());
          broadcast({ type: 'tokens', expires_in: lifetime / 1000 });
          return true;
        }
        if (r.status === 400 || r.status === 401) {
          // Refused: the session is over, unless another tab rotated the
          // same refresh token a moment ago and the browser holds its
          // new cookies (the server keeps them): then the call works.
          const check = await send('GET', '/api/me');
          return check.ok;
        }
        throw await failure(r);
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  // issued notes new tokens, from a login or refresh answer (or another
  // tab's), and schedules the next refresh.
  function issued(body) {
    const seconds = Number(body.expires_in);
    if (seconds > 0) {
      lifetime = seconds * 1000;
      expiresAt = Date.now() + lifetime;
    }
    generation++;
    schedule();
  }

  // schedule sets the refresh timer: at 80% of the lifetime, and at least
  // 1 s before the access token expires.
  function schedule() {
    clearTimeout(refreshTimer);
    if (!expiresAt) {
      return;
    }
    const left = expiresAt - Date.now();
    refreshTimer = setTimeout(timedRefresh, Math.max(0, left - Math.max(lifetime * 0.2, 1000)));
  }

  async function timedRefresh() {
    try {
      if (await refresh()) {
        if (refreshTrouble) {
          refreshTrouble = false;
          hideError();
        }
        showMe().catch(report);
      } else {
        endSession();
      }
    } catch (e) {
      // 429, 503, a network error: not a logout. Say so, and try again
      // after Retry-After (at most 30 s).
      const wait = Math.min(30, (e && e.retryAfter) || 5);
      refreshTrouble = true;
      showError(`The session could not be renewed (${e instanceof Failure ? e.message : 'the server cannot be reached'}): trying again in ${wait} s.`);
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(timedRefresh, wait * 1000);
    }
  }

  // checkSession asks /api/me who the cookies are (refreshing once on
  // 401) and shows the app, or the login form.
  async function checkSession() {
    try {
      await showMe();
      enter();
    } catch (e) {
      if (e instanceof LoggedOut) {
        return;
      }
      report(e);
    }
  }

  async function showMe() {
    const r = await api('GET', '/api/me');
    if (!r.ok) {
      throw await failure(r);
    }
    me = await r.json();
    if (!expiresAt && me.exp > 0) {
      // A page just loaded: the lifetime comes from the token itself.
      expiresAt = me.exp * 1000;
      lifetime = Math.max(0, (me.exp - me.iat) * 1000);
      schedule();
    }
    $('whoami').textContent = me.sub;
    $('roles').textContent = me.roles.length ? me.roles.join(', ') : 'none';
    $('scopes').textContent = me.scopes.length ? me.scopes.join(' ') : 'none';
    $('credential').textContent = `${me.credential === 'cookie' ? 'HttpOnly cookie' : me.credential || 'header'} · ${me.auth_method}`;
    $('credential').dataset.credential = me.credential || '';
    $('jti').textContent = me.jti;
    $('widget-form').hidden = !me.scopes.includes('widgets:write');
    $('nav-tokens').hidden = !me.scopes.includes('tokens:manage');
    return me;
  }

  // enter shows the app to a user whose /api/me answered.
  function enter() {
    const first = !loggedIn;
    loggedIn = true;
    $('login-view').hidden = true;
    $('app').hidden = false;
    hideError();
    clearInterval(tickTimer);
    tick();
    tickTimer = setInterval(tick, 1000);
    if (first) {
      scopeChoices();
      route();
    }
  }

  // loggedOut empties every private element and shows the login form.
  function loggedOut(message) {
    loggedIn = false;
    me = null;
    expiresAt = 0;
    lifetime = 0;
    clearTimeout(refreshTimer);
    clearInterval(tickTimer);
    refreshTrouble = false;
    for (const id of privateLists) {
      $(id).replaceChildren();
    }
    for (const id of privateTexts) {
      $(id).textContent = '';
    }
    $('credential').dataset.credential = '';
    $('token-scopes').querySelectorAll('label').forEach((l) => l.remove());
    $('token-created').hidden = true;
    for (const f of ['login', 'widget-form', 'token-form']) {
      $(f).reset();
    }
    $('app').hidden = true;
    $('login-view').hidden = false;
    if (message) {
      showError(message);
    } else {
      hideError();
    }
  }

  function tick() {
    const el = $('countdown');
    if (!expiresAt) {
      el.textContent = '';
      return;
    }
    const left = Math.ceil((expiresAt - Date.now()) / 1000);
    if (left <= 0) {
      el.textContent = 'expired: renewed on the next call';
      return;
    }
    const m = Math.floor(left / 60);
    el.textContent = `expires in ${m}:${String(left % 60).padStart(2, '0')}`;
  }

  // Errors

  function showError(message) {
    $('error').textContent = message;
    $('error').hidden = false;
  }

  function hideError() {
    $('error').textContent = '';
    $('error').hidden = true;
  }

  // report shows what went wrong, unless it was the end of the session
  // (the login form says it).
  function report(e) {
    if (e instanceof LoggedOut) {
      return;
    }
    if (e instanceof Failure) {
      showError(e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.');
    } else {
      showError('The server cannot be reached: try again.');
    }
  }

  // busy disables a button while its request runs.
  async function busy(button, work) {
    button.disabled = true;
    try {
      await work();
    } catch (e) {
      report(e);
    } finally {
      button.disabled = false;
    }
  }

  // Login and logout

  async function login(ev) {
    ev.preventDefault();
    const form = $('login');
    const username = form.elements.username.value;
    const password = form.elements.password.value;
    await busy(form.querySelector('button'), async () => {
      const r = await fetch('/auth/login', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'Token-Delivery': 'cookie' },
        body: JSON.stringify({ username, password }),
      });
      if (!r.ok) {
        const f = await failure(r);
        if (r.status === 401) {
          f.message = 'wrong username or password';
        } else if (r.status === 429) {
          f.message = `too many attempts: try again in ${f.retryAfter || 'a few'} s`;
        }
        throw f;
      }
      form.elements.password.value = '';
      issued(await r.json());
      broadcast({ type: 'login' });
      await showMe();
      enter();
    });
  }

  async function logout(all) {
    const button = $(all ? 'logout-all' : 'logout');
    await busy(button, async () => {
      try {
        const r = await api('POST', all ? '/auth/logout-all' : '/auth/logout');
        if (!r.ok) {
          throw await failure(r);
        }
      } catch (e) {
        if (!(e instanceof LoggedOut)) {
          throw e;
        }
      }
      broadcast({ type: 'logout' });
      loggedOut('');
    });
  }

  // Views: #/widgets, #/devices, #/tokens

  const views = { widgets: loadWidgets, devices: loadDevices, tokens: loadTokens };

  function route() {
    if (!loggedIn) {
      return;
    }
    let name = location.hash.replace(/^#\/?/, '');
    if (!Object.hasOwn(views, name) || $('nav-' + name).hidden) {
      name = 'widgets';
    }
    for (const v of Object.keys(views)) {
      $(v + '-view').hidden = v !== name;
      const nav = $('nav-' + v);
      if (v === name) {
        nav.setAttribute('aria-current', 'page');
      } else {
        nav.removeAttribute('aria-current');
      }
    }
    $('token-created').hidden = true;
    $('token-secret').textContent = '';
    views[name]().catch(report);
  }

  // el makes an element: text as its textContent, never HTML.
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function button(text, className, onClick) {
    const b = el('button', className, text);
    b.type = 'button';
    b.addEventListener('click', () => busy(b, onClick));
    return b;
  }

  async function getJSON(path) {
    const r = await api('GET', path);
    if (!r.ok) {
      throw await failure(r);
    }
    return r.json();
  }

  async function expect(r, status) {
    if (r.status !== status) {
      throw await failure(r);
    }
  }

  // Widgets

  async function loadWidgets() {
    const { widgets } = await getJSON('/api/widgets');
    const canWrite = me && me.scopes.includes('widgets:write');
    const items = widgets.map((w) => {
      const li = el('li');
      li.dataset.id = w.id;
      const main = el('div', 'main');
      main.append(el('span', 'name', w.name));
      const by = !w.created_by ? 'seeded' : me && w.created_by === me.sub ? 'by you' : `by ${w.created_by}`;
      main.append(el('span', 'meta', `#${w.id} · ${by}`));
      li.append(main);
      if (canWrite) {
        li.append(button('Delete', 'delete', async () => {
          await expect(await api('DELETE', '/api/widgets/' + encodeURIComponent(w.id)), 204);
          await loadWidgets();
        }));
      }
      return li;
    });
    if (!items.length) {
      items.push(el('li', 'empty', 'No widgets.'));
    }
    $('widgets').replaceChildren(...items);
  }

  async function createWidget(ev) {
    ev.preventDefault();
    await busy($('widget-create'), async () => {
      await expect(await api('POST', '/api/widgets', { name: $('widget-name').value }), 201);
      $('widget-name').value = '';
      await loadWidgets();
    });
  }

  // Devices: the refresh token families of the user

  function describeAgent(ua) {
    if (!ua) {
      return 'Unknown client';
    }
    const found = [
      [/Edg\/(\d+)/, 'Edge'],
      [/Firefox\/(\d+)/, 'Firefox'],
      [/(?:HeadlessChrome|Chromium|Chrome)\/(\d+)/, 'Chrome'],
      [/Version\/(\d+)[^ ]* .*Safari/, 'Safari'],
      [/^curl\/([\d.]+)/, 'curl'],
    ]
      .map(([re, name]) => [re.exec(ua), name])
      .find(([m]) => m);
    const os = [[/Windows/, 'Windows'], [/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Mac OS X/, 'macOS'], [/Linux/, 'Linux']]
      .find(([re]) => re.test(ua));
    if (!found) {
      return ua.length > 60 ? ua.slice(0, 57) + '…' : ua;
    }
    return `${found[1]} ${found[0][1]}${os ? ' on ' + os[1] : ''}`;
  }

  function when(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  // ago says how long ago iso was: "just now", "5 minutes ago", …
  function ago(iso) {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    if (Number.isNaN(seconds)) {
      return iso;
    }
    if (seconds > -60) {
      return 'just now';
    }
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
    for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
      if (-seconds >= size) {
        return rtf.format(Math.round(seconds / size), unit);
      }
    }
    return 'just now';
  }

  async function loadDevices() {
    const { devices } = await getJSON('/auth/devices');
    // This device first, then the most recently used.
    devices.sort((a, b) => (b.current - a.current) || (Date.parse(b.last_used) - Date.parse(a.last_used)));
    const items = devices.map((d) => {
      const li = el('li', d.current ? 'current' : '');
      li.dataset.id = d.id;
      const main = el('div', 'main');
      const title = el('div', 'title');
      const name = el('span', 'name', describeAgent(d.user_agent));
      name.title = d.user_agent || '';
      title.append(name);
      if (d.current) {
        title.append(el('span', 'badge', 'this device'));
      }
      main.append(title);
      main.append(el('span', 'meta', `signed in ${when(d.created)} · last used ${ago(d.last_used)}`));
      li.append(main);
      li.append(button(d.current ? 'Revoke (logs you out)' : 'Revoke', 'revoke danger', async () => {
        await expect(await api('DELETE', '/auth/devices/' + encodeURIComponent(d.id)), 204);
        if (d.current) {
          broadcast({ type: 'logout' });
          loggedOut('This device was revoked.');
          return;
        }
        await loadDevices();
      }));
      return li;
    });
    $('devices').replaceChildren(...items);
  }

  // API tokens

  // scopeChoices offers the user's own scopes to a new token, read only
  // by default.
  function scopeChoices() {
    const set = $('token-scopes');
    set.querySelectorAll('label').forEach((l) => l.remove());
    for (const s of (me && me.scopes) || []) {
      const label = el('label');
      const box = el('input');
      box.type = 'checkbox';
      box.name = 'scope';
      box.value = s;
      box.checked = s === 'widgets:read';
      label.append(box, ' ' + s);
      set.append(label);
    }
  }

  async function loadTokens() {
    const { tokens } = await getJSON('/api/tokens');
    const items = tokens.map((t) => {
      const li = el('li', t.revoked_at ? 'revoked' : '');
      li.dataset.id = t.id;
      const main = el('div', 'main');
      main.append(el('span', 'name', t.name));
      main.append(el('span', 'scopes', t.scopes.join(' ') || 'no scopes'));
      const parts = [`created ${when(t.created_at)}`];
      parts.push(t.expires_at ? `expires ${when(t.expires_at)}` : 'never expires');
      parts.push(t.last_used_at ? `last used ${when(t.last_used_at)}` : 'never used');
      if (t.revoked_at) {
        parts.push(`revoked ${when(t.revoked_at)}`);
      }
      main.append(el('span', 'meta', parts.join(' · ')));
      li.append(main);
      if (!t.revoked_at) {
        li.append(button('Revoke', 'revoke danger', async () => {
          await expect(await api('DELETE', '/api/tokens/' + encodeURIComponent(t.id)), 204);
          await loadTokens();
        }));
      }
      return li;
    });
    if (!items.length) {
      items.push(el('li', 'empty', 'No API tokens yet.'));
    }
    $('tokens').replaceChildren(...items);
  }

  async function createToken(ev) {
    ev.preventDefault();
    const form = $('token-form');
    const scopes = [...form.querySelectorAll('input[name=scope]:checked')].map((b) => b.value);
    await busy($('token-create'), async () => {
      const r = await api('POST', '/api/tokens', {
        name: $('token-name').value,
        scopes,
        expires_in: Number($('token-expiry').value),
      });
      await expect(r, 201);
      const t = await r.json();
      $('token-secret').textContent = t.token;
      $('token-created').hidden = false;
      $('token-copy').textContent = 'Copy';
      $('token-name').value = '';
      await loadTokens();
    });
  }

  async function copyToken() {
    const secret = $('token-secret').textContent;
    try {
      await navigator.clipboard.writeText(secret);
      $('token-copy').textContent = 'Copied';
    } catch {
      // No clipboard: select the text for the user to copy.
      const range = document.createRange();
      range.selectNodeContents($('token-secret'));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      $('token-copy').textContent = 'Press Ctrl+C';
    }
  }

  function hideToken() {
    $('token-secret').textContent = '';
    $('token-created').hidden = true;
  }

  // Events

  $('login').addEventListener('submit', login);
  // The form posts nothing by itself: its button is enabled only once
  // this script handles it.
  $('login').querySelector('button[type="submit"]').disabled = false;
  $('logout').addEventListener('click', () => logout(false));
  $('logout-all').addEventListener('click', () => logout(true));
  $('widget-form').addEventListener('submit', createWidget);
  $('token-form').addEventListener('submit', createToken);
  $('token-copy').addEventListener('click', copyToken);
  $('token-done').addEventListener('click', hideToken);
  window.addEventListener('hashchange', route);

  // A page restored from the back/forward cache may show a session that
  // ended meanwhile: hide it until /api/me says it is still good.
  window.addEventListener('pageshow', (ev) => {
    if (ev.persisted) {
      $('app').hidden = true;
      const was = loggedIn;
      checkSession().then(() => {
        if (was && loggedIn) {
          route();
        }
      });
    }
  });

  // A tab in the background may have missed its timer.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && loggedIn && expiresAt && expiresAt - Date.now() < 1000) {
      timedRefresh();
    }
  });

  if (channel) {
    channel.addEventListener('message', (ev) => {
      const msg = ev.data || {};
      if (msg.type === 'tokens' && loggedIn) {
        issued(msg);
        showMe().catch(report);
      } else if (msg.type === 'logout' && loggedIn) {
        loggedOut('You logged out in another tab.');
      } else if (msg.type === 'login' && !loggedIn) {
        checkSession();
      } else if (msg.type === 'login') {
        // Another tab logged in, maybe as someone else: the cookies are
        // that session's now, and this page must not show another user.
        const before = me && me.sub;
        showMe().then(() => {
          if (me && me.sub !== before) {
            location.reload();
          }
        }).catch(report);
      }
    });
  }

  // For the browser tests and the console: calls through api (cookies,
  // the refresh on 401), and counters. Nothing here holds a token.
  window.demoApp = Object.freeze({
    async call(method, path, body) {
      try {
        const r = await api(method, path, body);
        return { status: r.status, body: await r.text() };
      } catch (e) {
        return { status: e instanceof LoggedOut ? 401 : 0, error: String(e), loggedOut: !loggedIn };
      }
    },
    stats: () => ({ loggedIn, generation, refreshes, expiresAt }),
  });

  checkSession();
})();
