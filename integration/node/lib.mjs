// Helpers of the scripts of this directory: the environment the Go
// tests give, a fetch that records every exchange (printed when a script
// fails), a user's browser on the demo's login and consent pages, and a
// loopback callback server.

import { webcrypto } from 'node:crypto';
import http from 'node:http';

// Node.js 18 (Debian 12's) has WebCrypto, but not every part of it as a
// global, as oauth4webapi expects.
globalThis.crypto ??= webcrypto;
globalThis.CryptoKey ??= webcrypto.CryptoKey;

/** env returns the variable name, which the Go test must have set. */
export function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the scripts of integration/node from its Go tests (go test ./...)`);
  }
  return v;
}

export const BASE_URL = env('BASE_URL').replace(/\/$/, '');
export const PASSWORD = env('PASSWORD');

/** log prints a line of the script's progress. */
export function log(...args) {
  console.log(...args);
}

// watchers see each request recordingFetch sends (see watchRequests).
const watchers = [];

/**
 * watchRequests calls f with each request recordingFetch sends from now
 * on: { method, url, reqHeaders, reqBody }.
 */
export function watchRequests(f) {
  watchers.push(f);
}

// exchanges are the last requests and responses, for the failure report.
const exchanges = [];
const keepExchanges = 40;

/** headersText renders headers, one a line. */
function headersText(h) {
  const out = [];
  h.forEach((v, k) => out.push(`  ${k}: ${v}`));
  return out.join('\n');
}

/** bodyText renders a request body that is a string or a form. */
function bodyText(body) {
  if (body == null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  return `<${body.constructor?.name ?? typeof body}>`;
}

/**
 * recordingFetch is fetch that records the exchange: method, URL, the
 * request's headers and body, the status, the response's headers and
 * (but for an event stream) its body, and logs one line of it.
 */
export async function recordingFetch(input, init = {}) {
  // Not a Request of input and init: that would lock a stream body.
  const req = {
    method: (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase(),
    url: String(input instanceof Request ? input.url : input),
    headers: new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined)),
  };
  const e = {
    method: req.method,
    url: req.url,
    reqHeaders: headersText(req.headers),
    reqBody: bodyText(init.body),
  };
  for (const watch of watchers) watch(e);
  exchanges.push(e);
  if (exchanges.length > keepExchanges) exchanges.shift();
  let res;
  try {
    res = await fetch(input, init);
  } catch (err) {
    e.error = String(err);
    log(`  ${req.method} ${req.url} -> ${err}`);
    throw err;
  }
  e.status = res.status;
  e.resHeaders = headersText(res.headers);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream')) {
    try {
      e.resBody = (await res.clone().text()).slice(0, 4000);
    } catch (err) {
      e.resBody = `<unreadable: ${err}>`;
    }
  } else {
    e.resBody = '<event stream>';
  }
  let line = `  ${req.method} ${new URL(req.url).pathname} -> ${res.status}`;
  const loc = res.headers.get('location');
  if (loc) line += ` Location: ${loc.length > 160 ? loc.slice(0, 160) + '…' : loc}`;
  const www = res.headers.get('www-authenticate');
  if (www) line += ` WWW-Authenticate: ${www}`;
  if (res.status >= 400 && e.resBody && !type.startsWith('text/html')) line += ` ${e.resBody.slice(0, 300).trimEnd()}`;
  log(line);
  return res;
}

/** exchangeText renders the recorded exchanges, oldest first. */
export function exchangeText() {
  return exchanges
    .map((e) =>
      [
        `> ${e.method} ${e.url}`,
        e.reqHeaders,
        e.reqBody ? `  (body) ${e.reqBody}` : '',
        e.error ? `< error: ${e.error}` : `< ${e.status}`,
        e.resHeaders ?? '',
        e.resBody ? `  (body) ${e.resBody}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    )
    .join('\n\n');
}

/** check throws unless cond holds. */
export function check(cond, message, detail) {
  if (!cond) {
    const err = new Error(`check failed: ${message}`);
    if (detail !== undefined) err.detail = detail;
    throw err;
  }
}

/** equal throws unless got and want are equal (as JSON). */
export function equal(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  check(g === w, `${what}: got ${g}, want ${w}`);
}

/**
 * rejects awaits promise, which must reject, and returns the error;
 * pred, when given, must hold for it.
 */
export async function rejects(promise, what, pred) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  check(err !== undefined, `${what}: no error`);
  if (pred && !pred(err)) {
    throw new Error(`${what}: unexpected error ${err?.name}: ${err?.message} ${JSON.stringify(errorFields(err))}`, { cause: err });
  }
  log(`  ${what}: refused (${err.name}: ${err.error ?? err.code ?? ''} ${err.message})`);
  return err;
}

function errorFields(err) {
  if (!err || typeof err !== 'object') return {};
  const out = {};
  for (const k of ['code', 'error', 'error_description', 'status']) {
    if (err[k] !== undefined) out[k] = err[k];
  }
  return out;
}

/**
 * main runs the script's steps, selected by the SCENARIO variable, and
 * exits with status 1 and the recorded exchanges when one fails.
 */
export async function main(scenarios) {
  const name = env('SCENARIO');
  const run = scenarios[name];
  if (!run) {
    console.error(`unknown SCENARIO ${name}; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  try {
    await run();
    log(`ok: ${name}`);
    process.exit(0);
  } catch (err) {
    console.error(`\nFAILED: ${name}: ${err?.stack ?? err}`);
    for (let c = err?.cause; c; c = c.cause) {
      console.error(`cause: ${c?.stack ?? c} ${JSON.stringify(errorFields(c))}`);
      if (c === c.cause) break;
    }
    if (err?.detail !== undefined) console.error(`detail: ${JSON.stringify(err.detail, null, 2)}`);
    console.error(`\nthe last HTTP exchanges:\n\n${exchangeText()}`);
    process.exit(1);
  }
}

/** decodeJWT returns the payload of a JWT, unverified. */
export function decodeJWT(jwt) {
  const parts = String(jwt).split('.');
  check(parts.length === 3, `not a JWT: ${String(jwt).slice(0, 20)}…`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

/** htmlUnescape decodes the entities html/template writes in attributes. */
function htmlUnescape(s) {
  return s
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** parseForm reads the form of a page of the authorization endpoint. */
function parseForm(html, pageURL) {
  const form = /<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  check(form, 'the page has a form', html.slice(0, 2000));
  const action = new URL(htmlUnescape(form[1]), pageURL);
  const fields = {};
  for (const m of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const attrs = m[1];
    const type = /\btype="([^"]*)"/i.exec(attrs)?.[1];
    const name = /\bname="([^"]*)"/i.exec(attrs)?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(attrs)?.[1] ?? '';
    if (type === 'hidden' && name) fields[name] = htmlUnescape(value);
  }
  const buttons = [...form[2].matchAll(/<button\b[^>]*\bname="action"[^>]*\bvalue="([^"]*)"/gi)].map((m) => m[1]);
  return { action, fields, buttons };
}

/** pageError returns the error message shown on a page, if any. */
function pageError(html) {
  const m = /<p class="error"[^>]*>([\s\S]*?)<\/p>/i.exec(html);
  return m ? htmlUnescape(m[1]) : undefined;
}

/**
 * authorizeAsUser plays the user's browser from the authorization URL to
 * the redirect back to the client: GET the authorization request, the
 * login page's form with username and password, and the consent page's
 * button consent ('approve' or 'deny') if the page comes. Every request
 * is sent without following redirects, as a browser would post the
 * pages' forms: from the demo's own origin, which a fetch of Node.js
 * states by sending no Origin nor Sec-Fetch-Site at all.
 *
 * It returns { location, consentShown, consentScopes, status, html }:
 * location is the redirect's (303) Location, absent when a page
 * answered instead (an error page: its status, html and error).
 */
export async function authorizeAsUser(authorizationURL, { username, password = PASSWORD, consent = 'approve' }) {
  const out = { consentShown: false, consentScopes: [] };
  let res = await recordingFetch(authorizationURL, { redirect: 'manual' });
  if (res.status === 303 || res.status === 302) {
    out.location = res.headers.get('location');
    return out;
  }
  let html = await res.text();
  if (res.status !== 200) {
    return { ...out, status: res.status, html, error: pageError(html) };
  }
  const login = parseForm(html, res.url || String(authorizationURL));
  check(login.fields.action === 'login' && login.fields.request, 'the login page has the hidden request and action=login', login.fields);
  const body = new URLSearchParams({ ...login.fields, username, password });
  res = await recordingFetch(login.action, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  if (res.status === 303 || res.status === 302) {
    out.location = res.headers.get('location');
    return out;
  }
  html = await res.text();
  if (res.status !== 200 || !/<h1>Allow /.test(html)) {
    return { ...out, status: res.status, html, error: pageError(html) };
  }
  out.consentShown = true;
  out.consentHTML = html;
  out.consentScopes = [...html.matchAll(/<li>[^<]*?(?:\(<code>([^<]+)<\/code>\)|<code>([^<]+)<\/code>)<\/li>/g)].map((m) => m[1] ?? m[2]);
  const page = parseForm(html, login.action);
  check(page.fields.request, 'the consent page has the hidden request', page.fields);
  equal(page.buttons, ['approve', 'deny'], 'the consent page buttons');
  res = await recordingFetch(page.action, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request: page.fields.request, action: consent }),
  });
  if (res.status === 303 || res.status === 302) {
    out.location = res.headers.get('location');
    return out;
  }
  html = await res.text();
  return { ...out, status: res.status, html, error: pageError(html) };
}

/**
 * callbackServer listens on the loopback redirect URI url (its port 0:
 * any free port), as a CLI or desktop app does (RFC 8252 §7.3), and
 * returns { url, deliver(location), close() }: deliver follows the
 * redirect the authorization server sent to it, and returns the callback
 * URL as the server received it.
 */
export async function callbackServer(url = 'http://127.0.0.1:0/callback') {
  const want = new URL(url);
  let received;
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, `http://${req.headers.host}`);
    if (u.pathname !== want.pathname) {
      res.writeHead(404).end();
      return;
    }
    received = u;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.\n');
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(Number(want.port || 0), want.hostname, resolve);
  });
  const port = srv.address().port;
  const cb = `http://${want.hostname}:${port}${want.pathname}`;
  return {
    url: cb,
    async deliver(location) {
      check(location && location.startsWith(cb + '?'), `the redirect goes to the callback ${cb}: ${location}`);
      received = undefined;
      const res = await fetch(location);
      await res.text();
      check(res.status === 200 && received, `the callback server got the redirect (${res.status})`);
      return received;
    },
    close() {
      srv.close();
      srv.closeAllConnections?.();
    },
  };
}
