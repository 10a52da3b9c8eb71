// Signing in, as a deployment's owner does, in Chromium: a server started with an access token sends a page to
// /login, the token typed there lands on the page asked for, a hydrated page's server function answers, and
// Sign out ends the session. curl-style tests passed while every real browser was refused here (Chromium's
// `Origin: null` under `Referrer-Policy: no-referrer`), so this runs in the browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { withBrowser } from './browser.mjs';

const ADDR = process.env.CACHELENS_SIGNIN_ADDR ?? '127.0.0.1:18009';
const SIGNIN_BASE = `http://${ADDR}`;
const TOKEN = 'e2e-signin-token-0123456789abcdef';
let server;
let log = '';

before(async () => {
  const bin = process.env.CACHELENS_BIN;
  assert.ok(bin, 'CACHELENS_BIN is not set: run through scripts/test');
  // Run alone, not under cargo leptos: the binary takes its site from --site-root.
  const env = { ...process.env, CACHELENS_CACHE_PREFIX: 'cachelens-e2e-signin' };
  delete env.LEPTOS_OUTPUT_NAME;
  server = spawn(bin, ['serve', '--addr', ADDR, '--access-token', TOKEN, '--site-root', process.env.CACHELENS_SITE_ROOT ?? 'target/site'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => { log += d; });
  server.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${SIGNIN_BASE}/healthz`)).ok) return;
    } catch { /* not up yet */ }
    if (server.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the guarded server did not start:\n${log}`);
});

after(() => server?.kill());

/** Submits the sign-in form with `submit` and requires the browser to land on `path`, naming what it got. */
async function signIn(page, path, submit) {
  await Promise.all([page.waitForNavigation(), submit()]);
  const landed = new URL(page.url());
  assert.equal(landed.pathname, path, `signing in answered ${landed.pathname}: ${(await page.textContent('body')).slice(0, 300)}`);
  return landed;
}

test('sign in from a browser, use a hydrated page, sign out', async () => {
  await withBrowser(async (browser) => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const posts = [];
    page.on('response', (r) => { if (r.request().method() === 'POST') posts.push(`${r.status()} ${new URL(r.url()).pathname}`); });

    await page.goto(`${SIGNIN_BASE}/mysql?term=delta&limit=20`);
    assert.equal(new URL(page.url()).pathname, '/login', 'a page without a session is sent to /login');
    assert.equal(await page.locator('#sign-out').count(), 0, 'nobody to sign out yet');

    await page.fill('#token', 'not-the-token-at-all');
    await Promise.all([page.waitForNavigation(), page.click('#sign-in')]);
    assert.match(await page.textContent('[role=alert]'), /not the access token/);

    await page.fill('#token', TOKEN);
    const landed = await signIn(page, '/mysql', () => page.click('#sign-in'));
    assert.equal(`${landed.pathname}${landed.search}`, '/mysql?term=delta&limit=20', 'back on the page it asked for');
    await page.waitForSelector('main[data-hydrated="true"]', { timeout: 30_000 });

    // A query from the hydrated page: the press runs the page's server function, a POST the same-site check reads.
    const before = posts.length;
    await page.fill('input[name="limit"]', '7');
    await page.click('#run-query');
    await page.waitForFunction(() => document.querySelector('#row-count')?.textContent === '7', null, { timeout: 15_000 });
    const fnPosts = posts.slice(before).filter((p) => p.includes('/api/'));
    assert.ok(fnPosts.length > 0 && fnPosts.every((p) => p.startsWith('200 ')), `the server function answered: ${posts.join(', ')}`);
    assert.equal(await page.locator('table.rows tbody tr').count(), 7);

    await page.screenshot({ path: 'target/screenshots/signed-in-desktop.png', fullPage: false });
    await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#sign-out')]);
    await page.goto(`${SIGNIN_BASE}/compare`);
    assert.equal(new URL(page.url()).pathname, '/login', 'signed out: the next page asks again');
    assert.deepEqual(errors, [], 'page errors');
  });
});

test('the sign-out control is in the nav, usable by keyboard, at a phone width', async () => {
  await withBrowser(async (browser) => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${SIGNIN_BASE}/login?next=%2Flab`);
    await page.focus('#token');
    await page.keyboard.type(TOKEN);
    await signIn(page, '/lab', () => page.keyboard.press('Enter'));
    await page.waitForSelector('main[data-hydrated="true"]', { timeout: 30_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px`);
    assert.equal((await page.textContent('#sign-out')).trim(), 'Sign out');
    await page.screenshot({ path: 'target/screenshots/signed-in-phone.png', fullPage: false });
    await page.focus('#sign-out');
    await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.keyboard.press('Enter')]);
  });
});
