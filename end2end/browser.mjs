// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core (no browser
// download). A page fails its test on any console error or uncaught exception.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

export const BASE = process.env.CACHELENS_URL ?? 'http://127.0.0.1:18008';

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Runs `fn` with a fresh browser and closes the browser whatever happens. */
export async function withBrowser(fn) {
  const browser = await launch();
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

/** Opens `path` (in a page of `options`, e.g. a viewport), waits until the WASM has hydrated it, and records
 * console errors. */
export async function openHydrated(browser, path, options = {}) {
  const page = await browser.newPage(options);
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(BASE + path);
  await page.waitForSelector('main[data-hydrated="true"]', { timeout: 30_000 });
  page.assertNoErrors = () => assert.deepEqual(errors, [], 'console errors on the page');
  return page;
}
