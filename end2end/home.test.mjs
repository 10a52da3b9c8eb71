import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openHydrated, withBrowser } from './browser.mjs';

// The sample data by default; scripts/bench points this test at its generated dataset.
const EXPECTED_DATASET = process.env.CACHELENS_EXPECT_DATASET ?? '3000 articles from articles.csv';

test('Home hydrates and its refresh button reaches the server function', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/');
    assert.equal(await page.textContent('tr[data-service="MySQL"] .state'), 'up');
    assert.equal(await page.textContent('tr[data-service="Redis"] .state'), 'up');
    const dataset = await page.textContent('#dataset');
    assert.ok(dataset.startsWith(`${EXPECTED_DATASET}, loaded `), dataset);
    assert.match(dataset, /, loaded \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/);
    const before = Number(await page.textContent('#check-number'));
    await page.click('#refresh-status');
    // Only the WASM handler can issue the call and only the server can raise the count.
    await page.waitForFunction(
      (b) => Number(document.querySelector('#check-number')?.textContent) > b, before, { timeout: 10_000 });
    assert.match(await page.textContent('tr[data-service="Redis"] .rtt'), /^\d+\.\d{2} ms$/);
    page.assertNoErrors();
  });
});
