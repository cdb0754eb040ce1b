// End-to-end tests in Debian's Chromium, driven by playwright-core: the example app in cookie
// mode and in header mode, its session restored after the access token expired, one refresh
// shared by concurrent requests, three tabs racing refreshes without a sign-out, the app on another host of the same site (with and without
// JWT_COOKIE_DOMAIN), GraphiQL's Warden document and a subscription, and a page on another
// origin that must not be able to act with the victim's cookies. Run by tests/api/browser.rs
// against real Wardens:
//
//   node e2e.mjs '<config JSON>'
//
// The config names the account (`email`, `password`), the `artifacts` folder, the Wardens
// (`wardens.main`: headers,cookies; `wardens.short`: cookies with a 2 s access token;
// `wardens.header`: headers) and the example app's pages on app.example.test
// (`crossHost.shared`: its Warden sets JWT_COOKIE_DOMAIN; `crossHost.hostOnly`: it does not).
// WARDEN_CHROMIUM names the browser. On failure every open page is saved as a screenshot in
// the artifacts folder. One file on purpose: the scenarios share one browser launch, the
// helpers and the screenshots, and each is one function named for what it proves.
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

if (process.argv.length !== 3) {
  console.error("usage: node e2e.mjs '<config JSON>'");
  process.exit(2);
}
const { email, password, artifacts, wardens, crossHost } = JSON.parse(process.argv[2]);
const base = wardens.main;
const TIMEOUT = 15_000;

/** Waits until the element's text contains `text`. */
async function expectText(page, selector, text) {
  try {
    await page.waitForFunction(
      ([s, t]) => document.querySelector(s)?.textContent?.includes(t),
      [selector, text],
      { timeout: TIMEOUT },
    );
  } catch (e) {
    const actual = await page.locator(selector).first().textContent().catch(() => '(missing)');
    throw new Error(`${selector} never contained ${JSON.stringify(text)} (it says ${JSON.stringify(actual)})`);
  }
}
/** Waits until the live-events line is in `state` (by its data-state: the text
 * "disconnected" contains "connected"). */
async function expectLive(page, state) {
  try {
    await page.waitForFunction((s) => document.querySelector('#live')?.dataset.state === s, state, { timeout: TIMEOUT });
  } catch (e) {
    const actual = await page.locator('#live').textContent().catch(() => '(missing)');
    throw new Error(`live events never ${state} (it says ${JSON.stringify(actual)})`);
  }
}
async function expectSignInForm(page) {
  await page.waitForSelector('#login', { state: 'visible', timeout: TIMEOUT });
  if (await page.isVisible('#account')) throw new Error('the account and the sign-in form both show');
}

/** Clicks "Refresh tokens now" and waits for Warden's answer. */
async function refreshNow(page) {
  const answered = page.waitForResponse((r) => r.request().postData()?.includes('refresh {'), { timeout: TIMEOUT });
  await page.click('#refresh');
  const body = await (await answered).json();
  if (!body.data?.refresh) throw new Error(`refresh failed: ${JSON.stringify(body)}`);
}

async function signIn(page) {
  await page.waitForSelector('#login', { state: 'visible', timeout: TIMEOUT });
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login button');
  await expectText(page, '#me-email', email);
}

async function graphqlOverFetch(query, { token, operationName } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, {
    method: 'POST', headers, body: JSON.stringify({ query, operationName }),
  });
  return response.json();
}

async function exampleAppFlow(context) {
  const tab = await context.newPage();
  await tab.goto(`${base}/example/`);
  await signIn(tab);
  await expectLive(tab, 'connected');
  // headers,cookies: Warden hands out both; the page reads the CSRF cookie and takes cookies.
  await expectText(tab, '#mode', 'Cookie mode');
  console.log('ok - logs in, says it runs in cookie mode, shows me, live events connected');

  // A refresh leaves a non-fresh token: the @fresh mutation then asks for the password.
  await refreshNow(tab);
  await expectLive(tab, 'connected');
  await tab.fill('#new-name', 'Renamed In Browser');
  await tab.click('#rename button');
  await tab.waitForSelector('#reauth', { state: 'visible', timeout: TIMEOUT });
  await tab.fill('#reauth-password', password);
  await tab.click('#reauth button');
  await expectText(tab, '#me-name', 'Renamed In Browser');
  console.log('ok - FRESH_TOKEN_REQUIRED asks for the password, reauth, then the mutation runs');

  // Another tab of the same session signs out: the first is told live.
  const other = await context.newPage();
  await other.goto(`${base}/example/`);
  await expectLive(other, 'connected');
  await other.click('#logout');
  await expectText(tab, '#banner', 'Signed out elsewhere.');
  console.log('ok - a sign-out in another tab shows as "signed out elsewhere" live');
  await other.close();

  // Sign in again and sign out from the page itself.
  await signIn(tab);
  await expectLive(tab, 'connected');
  await tab.click('#logout');
  await expectText(tab, '#banner', 'Signed out.');
  await tab.goto(`${base}/example/`);
  await expectSignInForm(tab);
  console.log('ok - signs out');
  return tab;
}

/** (a) Reopened after its access token expired, the app restores the session through refresh;
 * and requests that meet TOKEN_EXPIRED together share one refresh. */
async function restoresAfterExpiry(browser) {
  const context = await browser.newContext();
  const url = `${wardens.short}/example/`;
  const first = await context.newPage();
  await first.goto(url);
  await signIn(first);
  await expectText(first, '#mode', 'Cookie mode');
  await first.close();
  // The access token lives 2 s (whole seconds: it may be accepted up to 3 s after it was
  // made); the page, and with it its refresh timer, is gone.
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  // With the context's cookies, as the page would send them: the access cookie has expired.
  const csrf = (await context.cookies()).find((c) => c.name === 'csrf_access_token')?.value;
  const before = await context.request.post(`${wardens.short}/graphql`, {
    headers: { 'Content-Type': 'application/json', 'X-CSRF-TOKEN': csrf ?? '' },
    data: { query: '{ me { id } }' },
  });
  const beforeBody = await before.json();
  if (beforeBody.errors?.[0]?.extensions?.code !== 'TOKEN_EXPIRED') {
    throw new Error(`the access cookie should have expired: ${JSON.stringify(beforeBody)}`);
  }

  const tab = await context.newPage();
  const refreshes = [];
  tab.on('request', (request) => {
    if (request.method() === 'POST' && request.postData()?.includes('refresh {')) refreshes.push(request);
  });
  await tab.goto(url);
  await expectText(tab, '#me-email', email);
  await expectLive(tab, 'connected');
  if (await tab.isVisible('#login')) throw new Error('the sign-in form shows beside the account');
  if (refreshes.length < 1) throw new Error('the session came back without a refresh');
  console.log('ok - reopened after the access token expired, the app restores its session through refresh');

  // Stop the page's own refreshing (its timer, and the socket that would refresh on 4401),
  // let the access token expire, then send three requests at once.
  await tab.evaluate(async () => {
    await refreshing;
    clearTimeout(refreshTimer);
    closeLive();
  });
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  const expired = await tab.evaluate(() => post('{ me { id } }'));
  if (expired.errors?.[0]?.extensions?.code !== 'TOKEN_EXPIRED') {
    throw new Error(`the access token should have expired: ${JSON.stringify(expired)}`);
  }
  refreshes.length = 0;
  const results = await tab.evaluate(() => Promise.all([1, 2, 3].map(() => graphql('{ me { email } }'))));
  for (const result of results) {
    if (result.data?.me?.email !== email) throw new Error(`a retried request failed: ${JSON.stringify(result)}`);
  }
  if (refreshes.length !== 1) throw new Error(`three requests made ${refreshes.length} refreshes, not one`);
  console.log('ok - three requests meeting TOKEN_EXPIRED share one refresh and all succeed');
  await context.close();
}

/** Three tabs of one cookie session refresh at once, and one request travels slowly: it
 * reaches Warden with the refresh token two rotations back. Within WARDEN_REFRESH_REUSE_GRACE
 * that is a race, not a theft: nobody is signed out. */
async function threeTabsRace(browser) {
  const context = await browser.newContext();
  const url = `${base}/example/`;
  const tabs = [];
  for (let i = 0; i < 3; i += 1) {
    const tab = await context.newPage();
    await tab.goto(url);
    if (i === 0) await signIn(tab);
    await expectText(tab, '#me-email', email);
    tabs.push(tab);
  }
  const [a, b, c] = tabs;
  const cookieHeader = async () => (await context.cookies(base)).map((k) => `${k.name}=${k.value}`).join('; ');

  // C's refresh leaves now, with the cookies of this moment, and is held on the wire. (Chromium
  // attaches cookies only when a held request finally goes out, so the slow wire is played by
  // this script: it sends C's request as it left, stale cookies included, and hands C the
  // answer; the cookies are already the session's current ones, which that answer would set.)
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let sent;
  const leftWith = new Promise((resolve) => { sent = resolve; });
  await c.route('**/graphql', async (route) => {
    const request = route.request();
    if (!request.postData()?.includes('refresh {')) return route.continue();
    const cookies = await cookieHeader();
    sent(cookies);
    await released;
    const headers = request.headers();
    const answer = await fetch(request.url(), {
      method: 'POST',
      headers: {
        'content-type': headers['content-type'],
        accept: headers.accept,
        origin: headers.origin ?? base,
        'x-csrf-token': headers['x-csrf-token'],
        cookie: cookies,
      },
      body: request.postData(),
    });
    return route.fulfill({
      status: answer.status,
      contentType: answer.headers.get('content-type') ?? 'application/json',
      body: await answer.text(),
    });
  });
  const slow = c.waitForResponse((r) => r.request().postData()?.includes('refresh {'), { timeout: TIMEOUT });
  await c.evaluate(() => { refreshOnce(); });
  const stale = await leftWith;
  // Meanwhile A and B refresh one after the other: two rotations.
  await refreshNow(a);
  await refreshNow(b);
  if ((await cookieHeader()) === stale) throw new Error('the session did not rotate while C waited');
  release();
  const late = await (await slow).json();
  if (!late.data?.refresh) throw new Error(`the late refresh failed: ${JSON.stringify(late)}`);
  for (const [name, tab] of [['A', a], ['B', b], ['C', c]]) {
    const me = await tab.evaluate(() => graphql('{ me { email } }'));
    if (me.data?.me?.email !== email) throw new Error(`tab ${name} was signed out: ${JSON.stringify(me)}`);
    if (await tab.isVisible('#login')) throw new Error(`tab ${name} shows the sign-in form`);
  }
  console.log('ok - three tabs refresh at once, one request two rotations late: nobody is signed out');
  await context.close();
}

/** (b) Header mode: tokens in memory, the socket authenticated with the bearer header, and a
 * reload shows the sign-in form. */
async function headerMode(browser) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`${wardens.header}/example/`);
  await expectSignInForm(tab);
  await signIn(tab);
  await expectText(tab, '#mode', 'Header mode');
  await expectLive(tab, 'connected');
  console.log('ok - header mode: signs in, says so, live events connected with the bearer token');

  await refreshNow(tab);
  await expectLive(tab, 'connected');
  await tab.fill('#new-name', 'Renamed In Header Mode');
  await tab.click('#rename button');
  await tab.waitForSelector('#reauth', { state: 'visible', timeout: TIMEOUT });
  await tab.fill('#reauth-password', password);
  await tab.click('#reauth button');
  await expectText(tab, '#me-name', 'Renamed In Header Mode');
  const stored = await tab.evaluate(() => ({ cookies: document.cookie, local: localStorage.length, session: sessionStorage.length }));
  if (stored.cookies !== '' || stored.local !== 0 || stored.session !== 0) {
    throw new Error(`header mode stored something: ${JSON.stringify(stored)}`);
  }
  console.log('ok - header mode: refresh, reauth and the @fresh mutation work; nothing is stored');

  await tab.reload();
  await expectSignInForm(tab);
  console.log('ok - header mode: a reload forgets the tokens and shows the sign-in form');
  await context.close();
}

/** (c) The app on app.example.test, Warden on auth.example.test, cookie mode. */
async function crossHostCookies(browser) {
  let context = await browser.newContext();
  let tab = await context.newPage();
  await tab.goto(crossHost.shared);
  await signIn(tab);
  await expectText(tab, '#mode', 'Cookie mode');
  await expectLive(tab, 'connected');
  const cookies = await tab.evaluate(() => document.cookie);
  if (!cookies.includes('csrf_access_token=')) throw new Error(`the page cannot read the CSRF cookie: ${cookies}`);
  if (cookies.includes('access_token_cookie=')) throw new Error(`the token cookie is readable: ${cookies}`);
  await tab.fill('#new-name', 'Renamed Across Hosts');
  await tab.click('#rename button');
  await expectText(tab, '#me-name', 'Renamed Across Hosts');
  const me = await tab.evaluate(() => post('{ me { email } }'));
  if (me.data?.me?.email !== email) throw new Error(`me across hosts: ${JSON.stringify(me)}`);
  await tab.reload();
  await expectText(tab, '#me-email', email);
  console.log('ok - app.example.test with JWT_COOKIE_DOMAIN: guarded POSTs and the socket pass the CSRF check; a reload restores');
  await context.close();

  // The same steps against a Warden without JWT_COOKIE_DOMAIN fail, as the docs say.
  context = await browser.newContext();
  tab = await context.newPage();
  await tab.goto(crossHost.hostOnly);
  await signIn(tab);
  await tab.fill('#new-name', 'Renamed Across Hosts');
  await tab.click('#rename button');
  await expectText(tab, '#rename-error', 'CSRF_FAILED');
  await expectText(tab, '#banner', 'JWT_COOKIE_DOMAIN');
  const refused = await tab.evaluate(() => post('{ me { email } }'));
  if (refused.errors?.[0]?.extensions?.code !== 'CSRF_FAILED') throw new Error(`expected CSRF_FAILED: ${JSON.stringify(refused)}`);
  await expectLive(tab, 'disconnected');
  console.log('ok - without JWT_COOKIE_DOMAIN the same POSTs fail with CSRF_FAILED and the page says why');
  await context.close();
}

/** (d) GraphiQL opens on Warden's document, and its steps work as written: Login with the
 * cursor in it and Ctrl-Enter, the token into the Headers tab, then Me. */
async function graphiqlDocument(context) {
  const page = await context.newPage();
  await page.goto(`${base}/graphql`);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: TIMEOUT });
  const text = await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
  for (const part of ['mutation Login', 'query Me', 'subscription SessionEvents', '{"Authorization": "Bearer <accessToken>"}', 'Headers tab', 'connection_init']) {
    if (!text.includes(part)) throw new Error(`the default document lacks ${JSON.stringify(part)}:\n${text}`);
  }
  await expectText(page, '.graphiql-query-editor', 'Warden');
  const headersEditor = page.locator('.graphiql-editor-tool .CodeMirror >> visible=true');
  await headersEditor.waitFor({ timeout: TIMEOUT });

  /** Puts the cursor on the line that starts `operation` and presses Ctrl-Enter. */
  const runAt = async (operation) => {
    await page.evaluate((op) => {
      const editor = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
      const line = editor.getValue().split('\n').findIndex((l) => l.startsWith(op));
      editor.focus();
      editor.setCursor({ line: line + 1, ch: 2 });
    }, operation);
    await page.keyboard.press('Control+Enter');
  };
  const response = () => page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '');

  await runAt('mutation Login');
  await expectText(page, '.graphiql-response', 'accessToken');
  const token = JSON.parse(await response()).data?.login?.accessToken;
  if (!token) throw new Error(`the document's Login failed: ${await response()}`);
  await headersEditor.click();
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
  await runAt('query Me');
  await expectText(page, '.graphiql-response', email);
  await graphqlOverFetch('mutation { logout }', { token });
  console.log('ok - GraphiQL opens on the Warden document, Headers tab open; Login and Me run as it says');

  // As the document says, the Docs explorer shows what a field needs.
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  await page.locator('.graphiql-doc-explorer a', { hasText: /^Mutation$/ }).first().click();
  await page.locator('.graphiql-doc-explorer a', { hasText: /^createUser$/ }).first().click();
  await expectText(page, '.graphiql-doc-explorer', 'Requires: role admin; fresh token');
  console.log("ok - GraphiQL's Docs explorer shows createUser's requirement");
  await page.close();
}

async function graphiqlSubscription(context) {
  const login = await graphqlOverFetch(
    `mutation { login(email: ${JSON.stringify(email)}, password: ${JSON.stringify(password)}) { accessToken } }`,
  );
  const token = login.data?.login?.accessToken;
  if (!token) throw new Error(`login for GraphiQL failed: ${JSON.stringify(login)}`);
  const page = await context.newPage();
  await page.goto(`${base}/graphql`);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: TIMEOUT });
  await page.evaluate((query) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
  }, 'subscription { sessionEvents { kind } }');
  await page.getByRole('button', { name: 'Headers' }).click();
  const headersEditor = page.locator('.graphiql-editor-tool .CodeMirror >> visible=true');
  await headersEditor.click();
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
  await page.click('.graphiql-execute-button');
  // Let the subscription start, then end the session from elsewhere.
  await page.waitForTimeout(1_000);
  const logout = await graphqlOverFetch('mutation { logout }', { token });
  if (logout.data?.logout !== true) throw new Error(`logout failed: ${JSON.stringify(logout)}`);
  await expectText(page, '.graphiql-response', 'SIGNED_OUT');
  console.log('ok - GraphiQL runs sessionEvents and shows SIGNED_OUT');
  await page.close();
}

/** Serves one attacking page on another origin (another port of the same host). */
function evilServer() {
  const page = `<!doctype html><title>evil</title><script>
    const warden = ${JSON.stringify(base)};
    (async () => {
      const out = {};
      for (const type of ['text/plain', 'application/json']) {
        try {
          const r = await fetch(warden + '/graphql', {
            method: 'POST', credentials: 'include', headers: { 'Content-Type': type },
            body: JSON.stringify({ query: 'mutation { logout }' }),
          });
          out[type] = 'read:' + r.status;
        } catch (e) { out[type] = 'unreadable'; }
      }
      out.ws = await new Promise((resolve) => {
        const ws = new WebSocket(warden.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
        setTimeout(() => resolve('timeout'), 5000);
      });
      document.body.dataset.result = JSON.stringify(out);
      document.title = 'done';
    })();
  </script>`;
  const server = http.createServer((_, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function crossOriginPage(context) {
  const tab = await context.newPage();
  await tab.goto(`${base}/example/`);
  await signIn(tab);
  await expectLive(tab, 'connected');

  const server = await evilServer();
  try {
    const evil = await context.newPage();
    await evil.goto(`http://127.0.0.1:${server.address().port}/`);
    await evil.waitForFunction(() => document.title === 'done', null, { timeout: TIMEOUT });
    const result = JSON.parse(await evil.evaluate(() => document.body.dataset.result));
    console.log(`   the other origin saw ${JSON.stringify(result)}`);
    if (result.ws !== 'refused') throw new Error(`the cookie-authenticated WebSocket opened: ${result.ws}`);
    for (const type of ['text/plain', 'application/json']) {
      if (result[type] !== 'unreadable') throw new Error(`a cross-origin response was readable: ${JSON.stringify(result)}`);
    }
    await evil.close();
  } finally {
    server.close();
  }
  // The victim's session survived: no mutation ran with its cookies.
  await tab.reload();
  await expectText(tab, '#me-email', email);
  await expectLive(tab, 'connected');
  console.log('ok - another origin can neither run a mutation with the cookies nor open the WebSocket');
  return tab;
}

const browser = await chromium.launch({
  executablePath: process.env.WARDEN_CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    // app.example.test and auth.example.test: two hosts of one site, both this machine.
    '--host-resolver-rules=MAP *.example.test 127.0.0.1',
  ],
});
const context = await browser.newContext();
let failed = false;
try {
  await exampleAppFlow(context);
  await graphiqlDocument(context);
  await graphiqlSubscription(context);
  await crossOriginPage(context);
  await restoresAfterExpiry(browser);
  await threeTabsRace(browser);
  await headerMode(browser);
  await crossHostCookies(browser);
} catch (error) {
  failed = true;
  console.error(`not ok - ${error.message}`);
  mkdirSync(artifacts, { recursive: true });
  for (const [i, page] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    const path = `${artifacts}/page-${i}.png`;
    await page.screenshot({ path, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${path} (${page.url()})`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
