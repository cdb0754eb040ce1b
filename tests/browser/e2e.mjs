// End-to-end tests in Debian's Chromium, driven by playwright-core: the example app's whole
// flow, GraphiQL running a subscription, and a page on another origin that must not be able to
// act with the victim's cookies. Run by tests/api/browser.rs against a real Warden:
//
//   node e2e.mjs <warden base URL> <email> <password> <artifacts dir>
//
// with WARDEN_CHROMIUM naming the browser. On failure every open page is saved as a
// screenshot in the artifacts folder.
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, email, password, artifacts] = process.argv.slice(2);
if (!base || !email || !password || !artifacts) {
  console.error('usage: node e2e.mjs <base> <email> <password> <artifacts>');
  process.exit(2);
}
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

async function graphqlOverFetch(query, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
  return response.json();
}

async function exampleAppFlow(context) {
  const tab = await context.newPage();
  await tab.goto(`${base}/example/`);
  await tab.fill('#email', email);
  await tab.fill('#password', password);
  await tab.click('#login button');
  await expectText(tab, '#me-email', email);
  await expectText(tab, '#live', 'connected');
  console.log('ok - logs in with cookies and shows me');

  // A refresh leaves a non-fresh token: the @fresh mutation then asks for the password.
  await tab.click('#refresh');
  await expectText(tab, '#live', 'connected');
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
  await expectText(other, '#live', 'connected');
  await other.click('#logout');
  await expectText(tab, '#banner', 'Signed out elsewhere.');
  console.log('ok - a sign-out in another tab shows as "signed out elsewhere" live');
  await other.close();

  // Sign in again and sign out from the page itself.
  await tab.fill('#email', email);
  await tab.fill('#password', password);
  await tab.click('#login button');
  await expectText(tab, '#live', 'connected');
  await tab.click('#logout');
  await expectText(tab, '#banner', 'Signed out.');
  await tab.goto(`${base}/example/`);
  await tab.waitForSelector('#login', { state: 'visible', timeout: TIMEOUT });
  console.log('ok - signs out');
  return tab;
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
  const logout = await graphqlOverFetch('mutation { logout }', token);
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
  await tab.fill('#email', email);
  await tab.fill('#password', password);
  await tab.click('#login button');
  await expectText(tab, '#live', 'connected');

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
  await expectText(tab, '#live', 'connected');
  console.log('ok - another origin can neither run a mutation with the cookies nor open the WebSocket');
  return tab;
}

const browser = await chromium.launch({
  executablePath: process.env.WARDEN_CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext();
let failed = false;
try {
  await exampleAppFlow(context);
  await graphiqlSubscription(context);
  await crossOriginPage(context);
} catch (error) {
  failed = true;
  console.error(`not ok - ${error.message}`);
  mkdirSync(artifacts, { recursive: true });
  for (const [i, page] of context.pages().entries()) {
    const path = `${artifacts}/page-${i}.png`;
    await page.screenshot({ path, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${path} (${page.url()})`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
