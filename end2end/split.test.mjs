import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openHydrated, withBrowser } from './browser.mjs';

// Every page but Home is a lazy route (app/src/app.rs): each page's code is a WASM chunk of its own. What a page
// fetched is read from the browser's resource timing, so these tests see what a user's browser downloads, not
// what the build claims.
const LAZY = {
  mysql: '#run-query', cache: '#run-query', delete: '#delete-cache', sql: '#run-sql', compare: '#run-sample',
  bench: '#bench-start', lab: '#lab-start',
};

const fetchedChunks = (page) => page.evaluate(() => performance.getEntriesByType('resource')
  .map((e) => new URL(e.name).pathname).filter((p) => /^\/pkg\/(split|chunk)_.*\.wasm$/.test(p)));

test('the home page loads no lazy page chunk; each lazy page, opened directly, preloads and hydrates with its own', async () => {
  await withBrowser(async (browser) => {
    const home = await openHydrated(browser, '/');
    assert.deepEqual(await fetchedChunks(home), [], 'the home page fetched a lazy page chunk');
    home.assertNoErrors();
    await home.close();

    const seen = new Set();
    for (const [path, control] of Object.entries(LAZY)) {
      const page = await openHydrated(browser, `/${path}`);
      // The server names the page's chunks in the head, so they load beside the main WASM, not after it.
      const preloaded = await page.$$eval('link[rel="modulepreload"]', (ls) => ls.map((l) => new URL(l.href).pathname));
      assert.ok(preloaded.some((p) => p.startsWith('/pkg/__wasm_split')), `/${path}: no split loader preloaded (${preloaded})`);
      const chunks = await fetchedChunks(page);
      const own = chunks.filter((c) => c.startsWith('/pkg/split_'));
      assert.ok(own.length > 0, `/${path}: no page chunk fetched (${chunks})`);
      own.forEach((c) => seen.add(c));
      // Hydrated means the chunk's code runs: the page's own control is enabled by it.
      assert.equal(await page.isEnabled(control), true, `/${path}: ${control} is not enabled`);
      page.assertNoErrors();
      await page.close();
    }
    assert.equal(seen.size, Object.keys(LAZY).length, `some pages share a page chunk: ${[...seen]}`);
  });
});

test('navigating from the home page to the lab fetches its chunk then and draws the page', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/');
    await page.click('nav a[href="/lab"]');
    await page.waitForSelector('#lab-start', { timeout: 30_000 });
    await page.waitForFunction(() => performance.getEntriesByType('resource')
      .some((e) => /\/pkg\/split_.*lab.*\.wasm$/.test(new URL(e.name).pathname)), null, { timeout: 30_000 });
    assert.equal(new URL(page.url()).pathname, '/lab');
    // Still the same document: the router drew the page in the browser, no full load.
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation')[0].name.endsWith('/')), true);
    page.assertNoErrors();
  });
});
