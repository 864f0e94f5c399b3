// The demo's authorization server through panva's oauth4webapi, a strict
// OAuth 2.1 client: RFC 8414 discovery, the authorization code grant
// with PKCE S256, RFC 9207's iss checked in the authorization response,
// DPoP (RFC 9449) with dpop_jkt and server nonces, refresh, revocation
// (RFC 7009), a third-party client on a loopback redirect URI with the
// consent page, and the refusals a strict client sees. Run by the Go
// tests (oauth4webapi_test.go) with SCENARIO, BASE_URL and PASSWORD set.

import * as oauth from 'oauth4webapi';
import {
  BASE_URL,
  authorizeAsUser,
  callbackServer,
  check,
  decodeJWT,
  equal,
  log,
  main,
  recordingFetch,
  rejects,
} from './lib.mjs';

// The demo runs on http://127.0.0.1: oauth4webapi refuses http unless
// told.
const http = { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: recordingFetch };

const issuer = new URL(BASE_URL);

/** discover reads the demo's RFC 8414 metadata and checks what the flows need. */
async function discover() {
  log('discovery: /.well-known/oauth-authorization-server');
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...http, algorithm: 'oauth2' }));
  equal(as.issuer, BASE_URL, 'metadata issuer');
  equal(as.authorization_response_iss_parameter_supported, true, 'authorization_response_iss_parameter_supported');
  check(as.code_challenge_methods_supported?.includes('S256'), 'code_challenge_methods_supported has S256', as);
  check(as.response_types_supported?.includes('code'), 'response_types_supported has code', as);
  check(as.grant_types_supported?.includes('authorization_code'), 'grant_types_supported has authorization_code', as);
  check(as.dpop_signing_alg_values_supported?.includes('ES256'), 'dpop_signing_alg_values_supported has ES256', as);
  check(as.revocation_endpoint, 'a revocation_endpoint', as);
  return as;
}

/** authorizationURL is the authorization request of params. */
function authorizationURL(as, params) {
  const u = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined) u.searchParams.set(k, v);
  }
  return u;
}

/**
 * start makes the PKCE verifier and state of an authorization request
 * for client, and the request's URL.
 */
async function start(as, client, redirectURI, extra = {}) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = authorizationURL(as, {
    client_id: client.client_id,
    redirect_uri: redirectURI,
    response_type: 'code',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  return { verifier, state, url };
}

/**
 * withNonce runs a DPoP request and the processing of its response,
 * once more when the server asks for its nonce (use_dpop_nonce): the
 * DPoP handle has cached the nonce from the refusal (RFC 9449 §8, as
 * oauth4webapi documents). It returns the result and the retries.
 */
async function withNonce(what, f) {
  try {
    return { result: await f(), retries: 0 };
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    log(`  ${what}: the server asks for a DPoP nonce (use_dpop_nonce): retrying with it`);
    return { result: await f(), retries: 1 };
  }
}

/** callbackOf returns the URL of the redirect to redirectURI, checked. */
function callbackOf(location, redirectURI) {
  check(location, 'the authorization endpoint redirects back to the client');
  const u = new URL(location);
  equal(`${u.origin}${u.pathname}`, redirectURI, 'the redirect URI of the response');
  return u;
}

// 1. The first-party client demo-web (public, redirect <issuer>/callback,
// no consent page) with a DPoP key bound from the authorization request
// on (dpop_jkt): the code, the tokens, /api/me, refresh and revocation.
async function webDPoP() {
  const as = await discover();
  const client = { client_id: 'demo-web' };
  const auth = oauth.None();
  const redirectURI = `${BASE_URL}/callback`;
  const keyPair = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(client, keyPair);
  const jkt = await DPoP.calculateThumbprint();
  const { verifier, state, url } = await start(as, client, redirectURI, {
    scope: 'widgets:read widgets:write',
    dpop_jkt: jkt,
  });

  log('authorization: login as demo (first-party: no consent page)');
  const r = await authorizeAsUser(url, { username: 'demo' });
  check(r.location, `a redirect after the login, not a page (${r.status}: ${r.error})`);
  check(!r.consentShown, 'no consent page for a first-party client');
  const cb = callbackOf(r.location, redirectURI);
  equal(cb.searchParams.get('iss'), as.issuer, 'iss of the authorization response (RFC 9207)');
  equal(cb.searchParams.get('state'), state, 'state of the authorization response');
  const params = oauth.validateAuthResponse(as, client, cb, state);

  log('token: authorization_code with the PKCE verifier and a DPoP proof');
  const code = await withNonce('token request', async () =>
    oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectURI, verifier, { ...http, DPoP }),
    ),
  );
  if (process.env.EXPECT_DPOP_NONCE === '1') {
    equal(code.retries, 1, 'use_dpop_nonce retries at the token endpoint (DEMO_DPOP_NONCE_KEY is set)');
  }
  const tokens = code.result;
  equal(tokens.token_type.toLowerCase(), 'dpop', 'token_type');
  check(tokens.refresh_token, 'a refresh token', tokens);
  check(tokens.expires_in > 0, 'expires_in', tokens);
  const claims = decodeJWT(tokens.access_token);
  equal(claims.cnf?.jkt, jkt, 'the access token is bound to the DPoP key (cnf.jkt)');
  equal(claims.iss, as.issuer, 'the access token iss');
  equal(claims.client_id, 'demo-web', 'the access token client_id');
  equal(new Set(String(claims.scope).split(' ')), new Set(['widgets:read', 'widgets:write']), 'the access token scope');

  log('resource: GET /api/me with the DPoP-bound token and a proof');
  const me = await withNonce('GET /api/me', async () => {
    const res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${BASE_URL}/api/me`), undefined, undefined, { ...http, DPoP });
    equal(res.status, 200, 'GET /api/me status');
    return res.json();
  });
  equal(me.result.client_id, 'demo-web', '/api/me client_id');
  check(me.result.sub?.startsWith('usr_'), '/api/me sub', me.result);
  equal(me.result.jti, claims.jti, '/api/me jti');

  log('resource: the DPoP-bound token without a proof, as a bearer token, is refused');
  const bearer = await recordingFetch(`${BASE_URL}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  equal(bearer.status, 401, 'a DPoP-bound token used as a bearer token');
  const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  log('resource: the token with a proof by another key is refused');
  await rejects(
    withNonce('GET /api/me, another key', () =>
      oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${BASE_URL}/api/me`), undefined, undefined, { ...http, DPoP: other }),
    ),
    'a proof by another key',
    (err) => err instanceof oauth.WWWAuthenticateChallengeError && err.status === 401,
  );

  log('refresh: without a proof, the bound refresh token is refused (and not spent)');
  await rejects(
    oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, http)),
    'a refresh of a DPoP-bound family without a proof',
    (err) => err instanceof oauth.ResponseBodyError && ['invalid_dpop_proof', 'invalid_grant'].includes(err.error),
  );
  log('refresh: with a proof by the key');
  const refreshed = (
    await withNonce('refresh', async () =>
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, { ...http, DPoP })),
    )
  ).result;
  equal(refreshed.token_type.toLowerCase(), 'dpop', 'token_type after the refresh');
  check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'a new refresh token (rotation)', refreshed);
  equal(decodeJWT(refreshed.access_token).cnf?.jkt, jkt, 'the refreshed access token is bound to the same key');
  const me2 = await withNonce('GET /api/me after the refresh', async () => {
    const res = await oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${BASE_URL}/api/me`), undefined, undefined, { ...http, DPoP });
    equal(res.status, 200, 'GET /api/me with the refreshed token');
    return res.json();
  });
  equal(me2.result.client_id, 'demo-web', '/api/me client_id after the refresh');

  log('revocation: the current refresh token (RFC 7009)');
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, refreshed.refresh_token, http));
  log('refresh: the revoked refresh token is refused');
  await rejects(
    withNonce('refresh with the revoked token', async () =>
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token, { ...http, DPoP })),
    ),
    'a refresh with the revoked refresh token',
    (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant',
  );
}

// 2. The third-party client demo-cli on a loopback redirect URI with a
// port of its own (RFC 8252 §7.3): the consent page, a token for the
// /api resource (RFC 8707), a widget created; the consent remembered;
// a denial; a scope the client may not have.
async function cliConsent() {
  const as = await discover();
  const client = { client_id: 'demo-cli' };
  const auth = oauth.None();
  const cbServer = await callbackServer('http://127.0.0.1:0/callback');
  try {
    const redirectURI = cbServer.url;
    const resource = `${BASE_URL}/api`;
    log(`authorization: demo-cli, redirect ${redirectURI}, resource ${resource}`);
    const { verifier, state, url } = await start(as, client, redirectURI, { scope: 'widgets:read widgets:write', resource });
    const r = await authorizeAsUser(url, { username: 'demo', consent: 'approve' });
    check(r.location, `a redirect after the consent, not a page (${r.status}: ${r.error})`);
    check(r.consentShown, 'the consent page for a third-party client');
    equal(new Set(r.consentScopes), new Set(['widgets:read', 'widgets:write']), 'the scopes on the consent page');
    const cb = await cbServer.deliver(r.location);
    equal(cb.searchParams.get('iss'), as.issuer, 'iss of the authorization response (RFC 9207)');
    const params = oauth.validateAuthResponse(as, client, cb, state);

    log('token: authorization_code, bearer, for the resource');
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectURI, verifier, { ...http, additionalParameters: { resource } }),
    );
    equal(tokens.token_type.toLowerCase(), 'bearer', 'token_type');
    const claims = decodeJWT(tokens.access_token);
    const aud = [].concat(claims.aud);
    equal(aud, [resource], 'the access token aud (RFC 8707)');
    equal(claims.client_id, 'demo-cli', 'the access token client_id');

    log('resource: GET and POST /api/widgets, GET /api/me');
    let res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${BASE_URL}/api/widgets`), undefined, undefined, http);
    equal(res.status, 200, 'GET /api/widgets');
    const name = `cli-widget-${Date.now()}`;
    res = await oauth.protectedResourceRequest(
      tokens.access_token,
      'POST',
      new URL(`${BASE_URL}/api/widgets`),
      new Headers({ 'content-type': 'application/json' }),
      JSON.stringify({ name }),
      http,
    );
    equal(res.status, 201, 'POST /api/widgets');
    res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${BASE_URL}/api/widgets`), undefined, undefined, http);
    const { widgets } = await res.json();
    check(widgets.some((w) => w.name === name), `the new widget ${name} is listed`, widgets);
    res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${BASE_URL}/api/me`), undefined, undefined, http);
    const me = await res.json();
    equal(me.client_id, 'demo-cli', '/api/me client_id');
    equal(me.aud, [resource], '/api/me aud');

    log('authorization again, same scopes: the consent is remembered');
    const again = await start(as, client, redirectURI, { scope: 'widgets:read' });
    const r2 = await authorizeAsUser(again.url, { username: 'demo' });
    check(r2.location && !r2.consentShown, `no consent page for scopes already granted (${r2.status}: ${r2.error})`);
    const cb2 = await cbServer.deliver(r2.location);
    oauth.validateAuthResponse(as, client, cb2, again.state);

    log('authorization as viewer, denied on the consent page');
    const deny = await start(as, client, redirectURI, { scope: 'widgets:read' });
    const r3 = await authorizeAsUser(deny.url, { username: 'viewer', consent: 'deny' });
    check(r3.consentShown && r3.location, `the consent page, then a redirect (${r3.status}: ${r3.error})`);
    const cb3 = await cbServer.deliver(r3.location);
    equal(cb3.searchParams.get('iss'), as.issuer, 'iss of the error response (RFC 9207)');
    await rejects(
      Promise.resolve().then(() => oauth.validateAuthResponse(as, client, cb3, deny.state)),
      'the denied authorization',
      (err) => err instanceof oauth.AuthorizationResponseError && err.error === 'access_denied',
    );

    log('authorization for a scope demo-cli may not have: invalid_scope, before any login');
    const bad = await start(as, client, redirectURI, { scope: 'tokens:manage' });
    const r4 = await authorizeAsUser(bad.url, { username: 'demo' });
    check(r4.location, `a redirect with the error (${r4.status}: ${r4.error})`);
    const cb4 = await cbServer.deliver(r4.location);
    await rejects(
      Promise.resolve().then(() => oauth.validateAuthResponse(as, client, cb4, bad.state)),
      'a scope the client may not have',
      (err) => err instanceof oauth.AuthorizationResponseError && err.error === 'invalid_scope',
    );
  } finally {
    cbServer.close();
  }
}

// 3. What a strict client refuses, and what the server refuses: a
// tampered or missing iss in the callback (validateAuthResponse), a
// wrong code_verifier, a code for another redirect URI, and a code used
// twice (the tokens issued from it revoked).
async function refusals() {
  const as = await discover();
  const client = { client_id: 'demo-web' };
  const auth = oauth.None();
  const redirectURI = `${BASE_URL}/callback`;

  const login = async () => {
    const s = await start(as, client, redirectURI, { scope: 'widgets:read' });
    const r = await authorizeAsUser(s.url, { username: 'demo' });
    check(r.location, `a redirect after the login (${r.status}: ${r.error})`);
    return { ...s, cb: callbackOf(r.location, redirectURI) };
  };
  const redeem = async (params, verifier, redirect = redirectURI) =>
    oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirect, verifier, http));

  log('callback: iss tampered with, and left out');
  const a = await login();
  const tampered = new URL(a.cb);
  tampered.searchParams.set('iss', 'https://attacker.example');
  await rejects(
    Promise.resolve().then(() => oauth.validateAuthResponse(as, client, tampered, a.state)),
    'a callback with another iss',
    (err) => err instanceof oauth.OperationProcessingError && /iss/.test(err.message),
  );
  const missing = new URL(a.cb);
  missing.searchParams.delete('iss');
  await rejects(
    Promise.resolve().then(() => oauth.validateAuthResponse(as, client, missing, a.state)),
    'a callback without iss',
    (err) => err instanceof oauth.OperationProcessingError && /iss/.test(err.message),
  );
  const wrongState = new URL(a.cb);
  await rejects(
    Promise.resolve().then(() => oauth.validateAuthResponse(as, client, wrongState, oauth.generateRandomState())),
    'a callback with another state',
    (err) => err instanceof oauth.OperationProcessingError && /state/.test(err.message),
  );
  // The untouched callback passes: the server's iss is the metadata's.
  oauth.validateAuthResponse(as, client, a.cb, a.state);

  log('token: a wrong code_verifier');
  const b = await login();
  const bParams = oauth.validateAuthResponse(as, client, b.cb, b.state);
  await rejects(redeem(bParams, oauth.generateRandomCodeVerifier()), 'a wrong code_verifier', (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant');

  log('token: another redirect_uri than the authorization request named');
  const c = await login();
  const cParams = oauth.validateAuthResponse(as, client, c.cb, c.state);
  await rejects(redeem(cParams, c.verifier, `${BASE_URL}/elsewhere`), 'another redirect_uri', (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant');

  log('token: a code used twice');
  const d = await login();
  const dParams = oauth.validateAuthResponse(as, client, d.cb, d.state);
  const first = await redeem(dParams, d.verifier);
  let res = await recordingFetch(`${BASE_URL}/api/me`, { headers: { authorization: `Bearer ${first.access_token}` } });
  equal(res.status, 200, 'GET /api/me with the tokens of the first redemption');
  await rejects(redeem(dParams, d.verifier), 'the code presented again', (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant');
  log('the tokens of the first redemption are revoked (RFC 6749 §4.1.2)');
  await rejects(
    oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, first.refresh_token, http)),
    'the refresh token issued from the reused code',
    (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant',
  );
  // The revocation list may take a moment to reach the verifier.
  const deadline = Date.now() + 30_000;
  for (;;) {
    res = await recordingFetch(`${BASE_URL}/api/me`, { headers: { authorization: `Bearer ${first.access_token}` } });
    if (res.status === 401 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  equal(res.status, 401, 'GET /api/me with the access token issued from the reused code');
}

await main({ 'web-dpop': webDPoP, 'cli-consent': cliConsent, refusals });
