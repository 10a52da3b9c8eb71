import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { BASE, openHydrated, withBrowser } from './browser.mjs';

// Every page at a desktop and a phone width: hydrated without console errors, no sideways scrolling of the
// page itself (wide tables scroll inside their own box), every form control labelled, and a screenshot to look
// at in target/screenshots/.
const PAGES = {
  home: '/',
  mysql: '/mysql?term=delta&limit=20&run=1',
  cache: '/cache?term=delta&limit=20&run=1',
  delete: '/delete',
  sql: '/sql',
  compare: '/compare',
  bench: '/bench',
  lab: '/lab',
};
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

mkdirSync('target/screenshots', { recursive: true });

for (const [size, viewport] of Object.entries(VIEWPORTS)) {
  test(`every page at ${size} width: no sideways scroll, labelled controls, a screenshot`, async () => {
    await withBrowser(async (browser) => {
      for (const [name, path] of Object.entries(PAGES)) {
        const page = await openHydrated(browser, path, { viewport });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        // Named in the message: the outermost elements that stick out, so a failure says where to look.
        const culprits = await page.evaluate(() => [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
          .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''}`));
        assert.ok(overflow <= 1, `${name} at ${size}: the page scrolls sideways by ${overflow} px (${culprits.join(', ')})`);
        const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
          .filter((c) => !(c.labels?.length || c.getAttribute('aria-label')))
          .map((c) => c.outerHTML));
        assert.deepEqual(unlabelled, [], `${name}: controls without a label`);
        await page.screenshot({ path: `target/screenshots/${name}-${size}.png`, fullPage: true });
        page.assertNoErrors();
        await page.close();
      }
      // The sign-in page is plain HTML (no WASM to wait for): the same checks.
      const login = await browser.newPage({ viewport });
      await login.goto(`${BASE}/login`);
      assert.equal(await login.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, `login at ${size} scrolls sideways`);
      assert.equal(await login.evaluate(() => document.querySelector('#token').labels.length), 1, 'the token field has its label');
      await login.screenshot({ path: `target/screenshots/login-${size}.png`, fullPage: true });
      await login.close();
    });
  });
}
