// The demo's MCP endpoint (/mcp) through the MCP TypeScript SDK's client
// (@modelcontextprotocol/sdk): Client and StreamableHTTPClientTransport
// with an OAuthClientProvider, from nothing: 401 with resource_metadata,
// RFC 9728 protected resource metadata, RFC 8414 metadata, dynamic client
// registration (RFC 7591) or a Client ID Metadata Document, the
// authorization code with PKCE and resource (RFC 8707) through the login
// and consent pages, tools/list and tools/call, and step-up
// authorization on 403 insufficient_scope. Run by the Go tests
// (mcp_test.go) with SCENARIO, BASE_URL, PASSWORD and, for the
// document scenarios, CALLBACK_URL and CLIENT_ID_URL set.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  BASE_URL,
  authorizeAsUser,
  callbackServer,
  check,
  decodeJWT,
  env,
  equal,
  log,
  main,
  recordingFetch,
  watchRequests,
} from './lib.mjs';

const mcpURL = `${BASE_URL}/mcp`;

// The requests to the authorization server that the SDK sends, seen on
// the wire: registrations, and the token requests' forms.
const registrations = [];
const tokenForms = [];
watchRequests((e) => {
  const path = new URL(e.url).pathname;
  if (e.method === 'POST' && path === '/auth/register') registrations.push(e.reqBody);
  if (e.method === 'POST' && path === '/auth/token') tokenForms.push(new URLSearchParams(e.reqBody));
});

/**
 * Provider is the OAuthClientProvider of the MCP client, kept in memory:
 * its client information, tokens and PKCE verifier, and, in
 * redirectToAuthorization, a user's browser on the demo's pages (login
 * as username, approve the consent page), whose code it keeps for
 * transport.finishAuth.
 */
class Provider {
  constructor({ callback, username, firstScope, clientMetadataUrl }) {
    this.callback = callback;
    this.username = username;
    // The scope of the first authorization request: with none in the 401
    // challenge, the SDK asks for every scope of the resource metadata's
    // scopes_supported (SEP-835); this client asks for least privilege
    // first, and for more when a tool needs it (step-up).
    this.firstScope = firstScope;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this.authorizations = []; // what each redirectToAuthorization saw and got
    this.stepUp = false;
  }

  get redirectUrl() {
    return this.callback.url;
  }

  get clientMetadata() {
    return {
      client_name: 'sessionless MCP SDK test client',
      redirect_uris: [this.callback.url],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: this.firstScope,
    };
  }

  clientInformation() {
    return this.client;
  }

  saveClientInformation(info) {
    log(`  provider: client information saved: client_id ${info.client_id}`);
    this.client = info;
  }

  tokens() {
    if (!this.saved) return undefined;
    if (this.stepUp) {
      // SDK 1.32 answers a 403 insufficient_scope by refreshing when it
      // holds a refresh token, which cannot widen the scope (RFC 6749
      // §6), and then gives up ("Server returned 403 after trying
      // upscoping"; modelcontextprotocol/typescript-sdk#2255). While a
      // step-up is under way the provider hides the refresh token, so
      // that the SDK asks the user for the wider scope.
      const { refresh_token: _, ...rest } = this.saved;
      return rest;
    }
    return this.saved;
  }

  saveTokens(tokens) {
    const claims = decodeJWT(tokens.access_token);
    log(`  provider: tokens saved: scope "${tokens.scope ?? claims.scope}", aud ${JSON.stringify(claims.aud)}, client_id ${claims.client_id}`);
    this.saved = tokens;
    this.stepUp = false;
  }

  saveCodeVerifier(v) {
    this.verifier = v;
  }

  codeVerifier() {
    check(this.verifier, 'a code verifier was saved');
    return this.verifier;
  }

  state() {
    this.expectedState = crypto.randomUUID();
    return this.expectedState;
  }

  async redirectToAuthorization(url) {
    const a = { url: new URL(url), asked: url.searchParams.get('scope') };
    this.authorizations.push(a);
    if (this.authorizations.length === 1 && this.firstScope) {
      url.searchParams.set('scope', this.firstScope);
    }
    log(`  provider: authorization request for client_id ${url.searchParams.get('client_id')}, scope "${url.searchParams.get('scope')}" (the SDK's: "${a.asked}"), resource ${url.searchParams.get('resource')}`);
    const r = await authorizeAsUser(url, { username: this.username, consent: 'approve' });
    Object.assign(a, r);
    if (!r.location) {
      log(`  provider: the authorization endpoint answered a page: ${r.status} ${r.error}`);
      return;
    }
    const cb = await this.callback.deliver(r.location);
    // What SDK 1.32's finishAuth does not check: state, and iss (RFC 9207).
    equal(cb.searchParams.get('state'), this.expectedState, 'state of the authorization response');
    equal(cb.searchParams.get('iss'), BASE_URL, 'iss of the authorization response (RFC 9207)');
    check(!cb.searchParams.get('error'), `the authorization response is not an error: ${cb.search}`);
    a.code = cb.searchParams.get('code');
    check(a.code, 'a code in the authorization response', cb.search);
  }

  /** takeCode returns the code of the last authorization, once. */
  takeCode() {
    const a = this.authorizations.at(-1);
    check(a?.code, 'the user went through the authorization and the client got a code');
    const code = a.code;
    a.code = undefined;
    return code;
  }
}

/**
 * newTransport is a streamable HTTP transport to /mcp for provider,
 * whose fetch records the exchanges and, on a 403 insufficient_scope,
 * starts the provider's step-up.
 */
function newTransport(provider, seen) {
  const f = async (input, init) => {
    const res = await recordingFetch(input, init);
    if (res.status === 403 && /insufficient_scope/.test(res.headers.get('www-authenticate') ?? '')) {
      seen.push(res.headers.get('www-authenticate'));
      provider.stepUp = true;
    }
    return res;
  };
  return new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider, fetch: f });
}

/** toolText is the text of a tool call's result. */
function toolText(result) {
  return JSON.stringify([result.content, result.structuredContent ?? null]);
}

/**
 * flow runs the client from nothing to a widget created after a step-up,
 * for provider; it returns the provider's client_id.
 */
async function flow(provider) {
  const challenges = [];
  log(`connect: ${mcpURL} without a token`);
  let client = new Client({ name: 'sessionless-node-test', version: '1.0.0' });
  let transport = newTransport(provider, challenges);
  let err;
  try {
    await client.connect(transport);
  } catch (e) {
    err = e;
  }
  check(err instanceof UnauthorizedError, `the first connect ends in the authorization (UnauthorizedError), not ${err}`);
  const first = provider.authorizations[0];
  check(first?.code, `the user authorized the client (${first?.status}: ${first?.error})`);
  equal(first.url.searchParams.get('resource'), mcpURL, 'the resource of the authorization request (RFC 8707)');
  equal(first.url.searchParams.get('code_challenge_method'), 'S256', 'code_challenge_method');
  check(first.consentShown, 'the consent page for a client that is not first-party');

  log('finishAuth: the code for tokens');
  await transport.finishAuth(provider.takeCode());
  const tokenForm = tokenForms.at(-1);
  equal(tokenForm?.get('grant_type'), 'authorization_code', 'grant_type of the token request');
  equal(tokenForm?.get('resource'), mcpURL, 'the resource of the token request (RFC 8707)');
  check(tokenForm?.get('code_verifier'), 'a code_verifier in the token request');
  let claims = decodeJWT(provider.saved.access_token);
  equal([].concat(claims.aud), [mcpURL], 'the access token aud: the MCP resource');
  equal(claims.scope, 'widgets:read', 'the access token scope (least privilege first)');
  equal(claims.client_id, provider.client.client_id, 'the access token client_id');
  log('the token for /mcp is refused by the REST API (its audience is /mcp)');
  const rest = await recordingFetch(`${BASE_URL}/api/widgets`, { headers: { authorization: `Bearer ${provider.saved.access_token}` } });
  equal(rest.status, 401, 'GET /api/widgets with the token for /mcp');

  log('connect again, authorized');
  client = new Client({ name: 'sessionless-node-test', version: '1.0.0' });
  transport = newTransport(provider, challenges);
  await client.connect(transport);

  log('tools/list');
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  check(names.includes('list_widgets') && names.includes('create_widget'), `tools/list has list_widgets and create_widget: ${names}`);

  log('tools/call list_widgets');
  const listed = await client.callTool({ name: 'list_widgets', arguments: {} });
  check(!listed.isError, `list_widgets succeeds: ${toolText(listed)}`);

  const name = `mcp-widget-${Date.now()}`;
  log(`tools/call create_widget ${name} with the read-only grant: 403 insufficient_scope, step-up`);
  err = undefined;
  try {
    const res = await client.callTool({ name: 'create_widget', arguments: { name } });
    err = new Error(`create_widget succeeded with a read-only token: ${toolText(res)}`);
  } catch (e) {
    err = e;
  }
  check(err instanceof UnauthorizedError, `the call ends in a new authorization (UnauthorizedError), not ${err?.stack ?? err}`);
  check(challenges.length === 1, `one 403 insufficient_scope challenge: ${challenges}`);
  const stepUp = provider.authorizations.at(-1);
  check(provider.authorizations.length === 2 && stepUp.code, `the user authorized the wider scope (${stepUp?.status}: ${stepUp?.error})`);
  const wanted = new Set(stepUp.url.searchParams.get('scope').split(' '));
  check(wanted.has('widgets:write'), `the step-up asks for widgets:write: ${[...wanted]}`);
  check(stepUp.consentShown, 'the consent page for the wider scope');
  check(stepUp.consentScopes.includes('widgets:write'), `the consent page shows widgets:write: ${stepUp.consentScopes}`);

  log('finishAuth: the step-up code for tokens, and the call again');
  await transport.finishAuth(provider.takeCode());
  claims = decodeJWT(provider.saved.access_token);
  check(String(claims.scope).split(' ').includes('widgets:write'), `the new access token has widgets:write: ${claims.scope}`);
  equal([].concat(claims.aud), [mcpURL], 'the new access token aud');
  const created = await client.callTool({ name: 'create_widget', arguments: { name } });
  check(!created.isError, `create_widget succeeds after the step-up: ${toolText(created)}`);
  const after = await client.callTool({ name: 'list_widgets', arguments: {} });
  check(!after.isError && toolText(after).includes(name), `list_widgets lists ${name}: ${toolText(after)}`);
  await client.close();
  return provider.client.client_id;
}

// 1. Dynamic client registration (RFC 7591), the demo's default.
async function dcr() {
  const callback = await callbackServer();
  try {
    const provider = new Provider({ callback, username: 'demo', firstScope: 'widgets:read' });
    const id = await flow(provider);
    equal(registrations.length, 1, 'registrations at /auth/register');
    const reg = JSON.parse(registrations[0]);
    equal(reg.redirect_uris, [callback.url], 'the registration redirect_uris');
    equal(reg.token_endpoint_auth_method, 'none', 'the registration token_endpoint_auth_method');
    check(!id.startsWith('https://'), `a registered client_id: ${id}`);
  } finally {
    callback.close();
  }
}

// 2. A Client ID Metadata Document: the client_id is the document's
// https URL (the Go test serves it), the demo fetches it; no
// registration.
async function document() {
  const url = env('CLIENT_ID_URL');
  const callback = await callbackServer(env('CALLBACK_URL'));
  try {
    const provider = new Provider({ callback, username: 'demo', firstScope: 'widgets:read', clientMetadataUrl: url });
    const id = await flow(provider);
    equal(id, url, 'the client_id: the metadata document URL');
    equal(registrations.length, 0, 'registrations at /auth/register');
    check(provider.authorizations[0].consentHTML.includes(url), 'the consent page names the document URL of an unverified client');
  } finally {
    callback.close();
  }
}

// 3. A metadata document whose redirect_uris do not hold the callback:
// the authorization request gets an error page (400), never a redirect.
async function documentBadRedirect() {
  const url = env('CLIENT_ID_URL');
  const callback = await callbackServer(env('CALLBACK_URL'));
  try {
    const provider = new Provider({ callback, username: 'demo', clientMetadataUrl: url });
    const client = new Client({ name: 'sessionless-node-test', version: '1.0.0' });
    let err;
    try {
      await client.connect(newTransport(provider, []));
    } catch (e) {
      err = e;
    }
    check(err instanceof UnauthorizedError, `the connect ends in the authorization (UnauthorizedError), not ${err}`);
    const a = provider.authorizations[0];
    check(a, 'the SDK sent the user to the authorization endpoint');
    equal(a.url.searchParams.get('client_id'), url, 'the client_id of the authorization request');
    check(!a.location, `no redirect to the client: ${a.location}`);
    equal(a.status, 400, 'the status of the error page');
    check(/redirect_uri/i.test(a.error ?? ''), `the error page says why: ${a.error}`);
    equal(registrations.length, 0, 'registrations at /auth/register');
  } finally {
    callback.close();
  }
}

await main({ dcr, document, 'document-bad-redirect': documentBadRedirect });
