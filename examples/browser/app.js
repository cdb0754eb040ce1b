// Warden example app: plain JavaScript, no framework, no build step. A small, complete client:
// it restores its session on load, signs in, refreshes before the access token expires (and
// once, shared, when requests meet TOKEN_EXPIRED), asks for the password again on
// FRESH_TOKEN_REQUIRED, listens to sessionEvents, and signs out.
//
// Where Warden is: the page's own origin, unless the page's <meta name="warden-url"> names
// another (whoever serves the page sets it). It is deliberately not read from the page's URL:
// a link must never be able to send the password typed here to another server. Warden serves
// this page at /example/ under a policy (connect-src 'self') that allows its own origin only.
//
// Two modes, learnt from what Warden hands out (see modeOf):
// - cookie mode: the tokens are HttpOnly cookies the page never sees; every POST echoes the
//   readable CSRF cookie in X-CSRF-TOKEN (double submit). The session survives a reload.
// - header mode: the tokens come in the response body and are kept in this script's memory,
//   never in localStorage or a cookie (a script injected later could read those, and they would
//   outlive the tab); they travel as `Authorization: Bearer …`. A reload forgets them.
'use strict';

const META = document.querySelector('meta[name="warden-url"]')?.content.trim();
const WARDEN = META ? new URL(META).origin : location.origin;
const GRAPHQL = `${WARDEN}/graphql`;
const SOCKET_URL = GRAPHQL.replace(/^http/, 'ws');
// Warden's default names (JWT_CSRF_HEADER_NAME, JWT_*_CSRF_COOKIE_NAME, JWT_HEADER_NAME).
const CSRF_HEADER = 'X-CSRF-TOKEN';
const ACCESS_CSRF = 'csrf_access_token';
const REFRESH_CSRF = 'csrf_refresh_token';
/** Refresh when this share of the access token's lifetime has passed. */
const REFRESH_AT = 0.8;

const USER = 'user { id name email roles }';
const TOKENS = `accessToken refreshToken expiresIn ${USER}`;
const REFRESH = `mutation { refresh { ${TOKENS} } }`;

const MODE_TEXT = {
  cookie: 'Cookie mode: the tokens are HttpOnly cookies this page cannot read. '
    + 'Reloading the page keeps you signed in.',
  header: 'Header mode: the tokens are kept in this page\'s memory only. '
    + 'Reloading the page forgets them and asks you to sign in again.',
};

const $ = (id) => document.getElementById(id);

/** 'cookie' or 'header' once Warden has handed out tokens; null while signed out. */
let mode = null;
/** Header mode only: the tokens, in memory and nowhere else. */
let tokens = { access: null, refresh: null };
/** Bumped whenever the tokens change, so a request that failed with older tokens retries
 * with the new ones instead of refreshing a second time. */
let generation = 0;
/** Bumped at every sign-out, so that a refresh still on its way then is not taken. */
let signOuts = 0;
/** The refresh in flight, shared by every caller that needs one (see refreshOnce). */
let refreshing = null;
let refreshTimer = null;
let refreshDueAt = Infinity;
let socket = null;
let pendingFreshAction = null;

function cookie(name) {
  const entry = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
  return entry ? decodeURIComponent(entry.slice(name.length + 1)) : undefined;
}

const codes = (body) => (body.errors ?? []).map((e) => e.extensions?.code);
const hasCode = (body, code) => codes(body).includes(code);
/** The first error as `message (CODE)`, for the user and for whoever reads the page. */
function describe(body) {
  const error = body.errors?.[0];
  if (!error) return '';
  return error.extensions?.code ? `${error.message} (${error.extensions.code})` : error.message;
}

function banner(text) {
  $('banner').textContent = text;
  $('banner').hidden = !text;
}

/**
 * Which mode to run in, decided from the first tokens Warden hands out (login, or the refresh
 * that restores a session). Robust because it reads what Warden did, not what its settings
 * might be: `accessToken` is null when tokens travel only in cookies (JWT_TOKEN_LOCATION=
 * cookies). With `headers,cookies` Warden returns the tokens and sets the cookies too: when the
 * page can read the CSRF cookie it takes the cookies (the session survives a reload, and no
 * script holds a token) and drops the tokens from the body; when it cannot (cookies of
 * another site), it keeps the tokens. With `headers` alone: header mode.
 */
function modeOf(payload) {
  if (payload.accessToken === null) return 'cookie';
  return cookie(ACCESS_CSRF) === undefined ? 'header' : 'cookie';
}

/** POSTs one operation with the current credentials; the access token, or the refresh
 * token (`refresh` itself). A network failure comes back as an error like Warden's. */
async function post(query, variables = {}, { withRefreshToken = false } = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (mode === 'header') {
    const token = withRefreshToken ? tokens.refresh : tokens.access;
    if (token) headers.Authorization = `Bearer ${token}`;
  } else {
    // Cookie mode, or not known yet: the browser sends the cookies; echo their CSRF value.
    const csrf = cookie(withRefreshToken ? REFRESH_CSRF : ACCESS_CSRF);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  try {
    const response = await fetch(GRAPHQL, {
      method: 'POST',
      // `include` so that a Warden on another host (listed in WARDEN_CORS_ORIGINS) can set
      // and read its cookies; header mode sends none, so no cookie is ever read instead.
      credentials: mode === 'header' ? 'omit' : 'include',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (hasCode(body, 'CSRF_FAILED')) banner(csrfAdvice());
    return body;
  } catch (error) {
    return { errors: [{ message: `Warden could not be reached (${error.message})` }] };
  }
}

function csrfAdvice() {
  return `Warden refused a request's CSRF check. This page echoes the ${ACCESS_CSRF} cookie, `
    + 'and it can read that cookie only when it is set for this page\'s host: a page served '
    + 'from another host of the same site needs JWT_COOKIE_DOMAIN on Warden.';
}

/**
 * Runs an operation; when it meets TOKEN_EXPIRED (or TOKEN_REVOKED: a lost grant is cured by
 * a refresh, an ended session is not), refreshes once and retries once. Concurrent callers
 * share one refresh: refresh tokens rotate, and a retired one sent again after the grace
 * window ends the session.
 */
async function graphql(query, variables = {}) {
  const sentWith = generation;
  const body = await post(query, variables);
  if (!hasCode(body, 'TOKEN_EXPIRED') && !hasCode(body, 'TOKEN_REVOKED')) return body;
  // The tokens changed while this request was on its way: just retry with them.
  if (generation === sentWith && !(await refreshOnce())) return body;
  return post(query, variables);
}

/** The one refresh in flight, started if there is none. Resolves to true on success. */
function refreshOnce() {
  refreshing ??= refresh().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function refresh() {
  const before = signOuts;
  const body = await post(REFRESH, {}, { withRefreshToken: true });
  if (signOuts !== before) return false;
  if (body.data?.refresh) {
    adopt(body.data.refresh);
    return true;
  }
  // Only Warden's word ends the session; a network failure or a busy server does not.
  const ended = ['TOKEN_EXPIRED', 'TOKEN_REVOKED', 'UNAUTHENTICATED', 'INVALID_TOKEN', 'WRONG_TOKEN_TYPE'];
  if (codes(body).some((c) => ended.includes(c))) {
    showSignedOut('Your session has ended. Please sign in again.');
  } else if (!hasCode(body, 'CSRF_FAILED')) {
    banner(`Could not refresh the session: ${describe(body)}`);
  }
  return false;
}

/** Takes new tokens (from login, refresh or reauth) and everything that follows from them. */
function adopt(payload) {
  mode ??= modeOf(payload);
  if (mode === 'header') {
    tokens.access = payload.accessToken;
    // `reauth` hands out no refresh token: keep the one we have.
    if (payload.refreshToken) tokens.refresh = payload.refreshToken;
  }
  generation += 1;
  showUser(payload.user);
  scheduleRefresh(payload.expiresIn);
  connectLive(); // a socket lives no longer than the token it authenticated with
}

function scheduleRefresh(expiresInSeconds) {
  clearTimeout(refreshTimer);
  const wait = expiresInSeconds * 1000 * REFRESH_AT;
  refreshDueAt = Date.now() + wait;
  refreshTimer = setTimeout(refreshOnce, wait);
}

function showUser(user) {
  $('me-name').textContent = user.name;
  $('me-email').textContent = user.email;
  $('me-roles').textContent = user.roles.join(', ') || '(none)';
  $('mode').textContent = MODE_TEXT[mode];
  document.body.dataset.mode = mode;
  $('restoring').hidden = true;
  $('login').hidden = true;
  $('account').hidden = false;
}

function showSignedOut(text) {
  clearTimeout(refreshTimer);
  closeLive();
  mode = null;
  tokens = { access: null, refresh: null };
  generation += 1;
  signOuts += 1;
  pendingFreshAction = null;
  delete document.body.dataset.mode;
  $('reauth').hidden = true;
  $('account').hidden = true;
  $('restoring').hidden = true;
  $('login').hidden = false;
  banner(text);
}

function setLive(state, detail) {
  $('live').textContent = detail ? `${state}: ${detail}` : state;
  $('live').dataset.state = state;
}

function closeLive() {
  if (socket) {
    socket.onclose = null;
    socket.close();
    socket = null;
  }
}

const CLOSE_REASONS = {
  4401: 'Warden refused or ended the connection\'s authentication (4401)',
  4408: 'no connection_init in time (4408)',
  4429: 'too many open connections for this user (4429)',
};

/** Opens the sessionEvents subscription over graphql-transport-ws. */
function connectLive() {
  closeLive();
  const ws = new WebSocket(SOCKET_URL, 'graphql-transport-ws');
  let acknowledged = false;
  socket = ws;
  setLive('connecting…');
  ws.onopen = () => {
    // The socket authenticates in connection_init: the token in header mode; in cookie mode
    // the access cookie travels with the upgrade and the payload carries its CSRF value.
    const payload = mode === 'header'
      ? { Authorization: `Bearer ${tokens.access}` }
      : { [CSRF_HEADER]: cookie(ACCESS_CSRF) };
    ws.send(JSON.stringify({ type: 'connection_init', payload }));
  };
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === 'connection_ack') {
      acknowledged = true;
      setLive('connected');
      ws.send(JSON.stringify({
        id: 'session',
        type: 'subscribe',
        payload: { query: 'subscription { sessionEvents { kind sessionId roles permissions expiresAt } }' },
      }));
    } else if (data.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong' }));
    } else if (data.type === 'next') {
      onSessionEvent(data.payload.data.sessionEvents);
    } else if (data.type === 'error') {
      setLive('disconnected', describe({ errors: data.payload }));
    }
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    if (event.code === 4401 && acknowledged) {
      // The token this socket authenticated with stopped being valid (it expired while the
      // page slept, say): refresh, which reconnects; a failed refresh signs out.
      setLive('connecting…');
      refreshOnce();
    } else {
      // Refused at connection_init, or another reason: retrying the same way would loop.
      setLive('disconnected', CLOSE_REASONS[event.code] ?? `closed with ${event.code}`);
    }
  };
}

function onSessionEvent(event) {
  switch (event.kind) {
    case 'SIGNED_OUT':
      showSignedOut('Signed out elsewhere.');
      break;
    case 'ACCOUNT_DISABLED':
      showSignedOut('Your account was disabled.');
      break;
    case 'GRANTS_CHANGED':
      banner(`Your roles changed: ${event.roles.join(', ') || '(none)'}.`);
      refreshOnce();
      break;
    case 'ACCESS_TOKEN_EXPIRING':
      // The timer normally refreshed already (and this socket was replaced); it can be late
      // when the browser throttled a background tab. With a lifetime under a minute this
      // arrives at once, and the timer stays in charge.
      if (Date.now() >= refreshDueAt) refreshOnce();
      break;
    default:
      break;
  }
}

/** Runs a @fresh mutation; on FRESH_TOKEN_REQUIRED asks for the password, then retries. */
async function whenFresh(action, errorField) {
  const body = await action();
  if (hasCode(body, 'FRESH_TOKEN_REQUIRED')) {
    pendingFreshAction = { action, errorField };
    $('reauth').hidden = false;
    $('reauth-password').focus();
    return;
  }
  $(errorField).textContent = describe(body);
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = await post(
    `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ${TOKENS} } }`,
    { e: $('email').value, p: $('password').value },
  );
  if (!body.data?.login) {
    $('login-error').textContent = describe(body);
    return;
  }
  $('login-error').textContent = '';
  $('password').value = '';
  banner('');
  adopt(body.data.login);
});

$('rename').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('new-name').value;
  whenFresh(async () => {
    const body = await graphql('mutation($n: String!) { updateSettings(name: $n) { name } }', { n: name });
    if (body.data?.updateSettings) $('me-name').textContent = body.data.updateSettings.name;
    return body;
  }, 'rename-error');
});

$('reauth').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = await graphql(
    `mutation($p: String!) { reauth(password: $p) { ${TOKENS} } }`,
    { p: $('reauth-password').value },
  );
  if (!body.data?.reauth) {
    $('reauth-error').textContent = describe(body);
    return;
  }
  $('reauth-password').value = '';
  $('reauth-error').textContent = '';
  $('reauth').hidden = true;
  adopt(body.data.reauth);
  if (pendingFreshAction) {
    const { action, errorField } = pendingFreshAction;
    pendingFreshAction = null;
    await whenFresh(action, errorField);
  }
});

$('refresh').addEventListener('click', () => refreshOnce());

$('logout').addEventListener('click', async () => {
  await graphql('mutation { logout }');
  showSignedOut('Signed out.');
});

// Restore the session through `refresh`. In cookie mode the browser still holds the refresh
// cookie, whatever became of the short-lived access token while the page was closed. In header
// mode nothing survived the reload, Warden answers UNAUTHENTICATED, and the page asks to sign in.
(async () => {
  const body = await post(REFRESH, {}, { withRefreshToken: true });
  if (body.data?.refresh) {
    adopt(body.data.refresh);
  } else {
    $('restoring').hidden = true;
    $('login').hidden = false;
  }
})();
