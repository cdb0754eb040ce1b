// Warden example app: plain JavaScript, no build step, tokens in HttpOnly cookies.
//
// Warden must run with cookies as a token location (JWT_TOKEN_LOCATION=cookies) and the
// default cookie and header names. The page never sees a token: it reads only the CSRF values
// (readable cookies) and echoes them in the X-CSRF-TOKEN header, as double-submit CSRF wants.
'use strict';

const GRAPHQL = '/graphql';
const CSRF_HEADER = 'X-CSRF-TOKEN';
const ACCESS_CSRF = 'csrf_access_token';
const REFRESH_CSRF = 'csrf_refresh_token';
/** Refresh this long before the access token expires, whatever the live events say. */
const REFRESH_MARGIN_MS = 30_000;

const $ = (id) => document.getElementById(id);
let socket = null;
let refreshTimer = null;
let pendingFreshAction = null;

function cookie(name) {
  const entry = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
  return entry ? decodeURIComponent(entry.slice(name.length + 1)) : undefined;
}

/** POSTs an operation; the CSRF value of `csrfCookie` goes in the header. */
async function graphql(query, variables = {}, csrfCookie = ACCESS_CSRF) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  const csrf = cookie(csrfCookie);
  if (csrf) headers[CSRF_HEADER] = csrf;
  const response = await fetch(GRAPHQL, {
    method: 'POST',
    credentials: 'same-origin',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

const code = (body) => body.errors?.[0]?.extensions?.code;
const messageOf = (body) => body.errors?.[0]?.message ?? '';

function banner(text) {
  $('banner').textContent = text;
  $('banner').hidden = !text;
}

function showSignedOut(text) {
  clearTimeout(refreshTimer);
  if (socket) {
    socket.onclose = null;
    socket.close();
    socket = null;
  }
  $('account').hidden = true;
  $('login').hidden = false;
  banner(text);
}

function showUser(user) {
  $('me-name').textContent = user.name;
  $('me-email').textContent = user.email;
  $('me-roles').textContent = user.roles.join(', ') || '(none)';
  $('login').hidden = true;
  $('account').hidden = false;
}

async function loadMe() {
  const body = await graphql('{ me { id name email roles } }');
  if (body.data?.me) {
    showUser(body.data.me);
    return true;
  }
  return false;
}

function scheduleRefresh(expiresInSeconds) {
  clearTimeout(refreshTimer);
  const wait = Math.max(expiresInSeconds * 1000 - REFRESH_MARGIN_MS, 1_000);
  refreshTimer = setTimeout(refresh, wait);
}

async function refresh() {
  const body = await graphql('mutation { refresh { expiresIn user { name email roles } } }', {}, REFRESH_CSRF);
  if (!body.data?.refresh) {
    showSignedOut('Your session has ended. Please sign in again.');
    return false;
  }
  showUser(body.data.refresh.user);
  scheduleRefresh(body.data.refresh.expiresIn);
  connectLive(); // the socket authenticated with the old token: reconnect with the new one
  return true;
}

/** Opens the sessionEvents subscription over graphql-transport-ws. */
function connectLive() {
  if (socket) {
    socket.onclose = null;
    socket.close();
  }
  const url = `${location.origin.replace(/^http/, 'ws')}${GRAPHQL}`;
  const ws = new WebSocket(url, 'graphql-transport-ws');
  socket = ws;
  $('live').textContent = 'connecting…';
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: 'connection_init', payload: { [CSRF_HEADER]: cookie(ACCESS_CSRF) } }));
  };
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === 'connection_ack') {
      $('live').textContent = 'connected';
      ws.send(JSON.stringify({
        id: 'session',
        type: 'subscribe',
        payload: { query: 'subscription { sessionEvents { kind sessionId roles permissions expiresAt } }' },
      }));
    } else if (data.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong' }));
    } else if (data.type === 'next') {
      onSessionEvent(data.payload.data.sessionEvents);
    }
  };
  ws.onclose = () => {
    if (socket === ws) {
      $('live').textContent = 'disconnected';
      socket = null;
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
      refresh();
      break;
    case 'ACCESS_TOKEN_EXPIRING':
      refresh();
      break;
    default:
      break;
  }
}

/** Runs a @fresh mutation; on FRESH_TOKEN_REQUIRED asks for the password, then retries. */
async function whenFresh(action, errorField) {
  const body = await action();
  if (code(body) === 'FRESH_TOKEN_REQUIRED') {
    pendingFreshAction = { action, errorField };
    $('reauth').hidden = false;
    $('reauth-password').focus();
    return;
  }
  $(errorField).textContent = body.errors ? messageOf(body) : '';
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = await graphql(
    'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { expiresIn user { name email roles } } }',
    { e: $('email').value, p: $('password').value },
  );
  if (!body.data?.login) {
    $('login-error').textContent = messageOf(body);
    return;
  }
  $('login-error').textContent = '';
  $('password').value = '';
  banner('');
  showUser(body.data.login.user);
  scheduleRefresh(body.data.login.expiresIn);
  connectLive();
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
    'mutation($p: String!) { reauth(password: $p) { expiresIn } }',
    { p: $('reauth-password').value },
  );
  if (!body.data?.reauth) {
    $('reauth-error').textContent = messageOf(body);
    return;
  }
  $('reauth-password').value = '';
  $('reauth-error').textContent = '';
  $('reauth').hidden = true;
  scheduleRefresh(body.data.reauth.expiresIn);
  connectLive();
  if (pendingFreshAction) {
    const { action, errorField } = pendingFreshAction;
    pendingFreshAction = null;
    await whenFresh(action, errorField);
  }
});

$('refresh').addEventListener('click', () => refresh());

$('logout').addEventListener('click', async () => {
  await graphql('mutation { logout }');
  showSignedOut('Signed out.');
});

(async () => {
  if (await loadMe()) {
    connectLive();
    // The access token's lifetime is unknown here: refresh now to learn it.
    refresh();
  } else {
    $('login').hidden = false;
  }
})();
