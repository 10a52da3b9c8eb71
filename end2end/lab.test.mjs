import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openHydrated, withBrowser } from './browser.mjs';

mkdirSync('target/screenshots', { recursive: true });

test('a small lab from the page: live progress, then the table, the charts and the sweep', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/lab', { viewport: { width: 1280, height: 900 } });
    await page.fill('#lab-items', '200');
    await page.fill('#lab-seconds', '2');
    await page.fill('#lab-ttl', '1');
    await page.fill('#lab-ttls', '1,3');
    await page.fill('#lab-concurrency', '4');
    // Keyboard only: the submit button is reached with Tab and pressed with Enter.
    await page.focus('#lab-stale-budget');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'lab-start');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#lab-run[data-state="running"]', { timeout: 10_000 });
    await page.waitForSelector('#lab-run[data-state="done"]', { timeout: 90_000 });
    assert.equal(await page.textContent('#lab-progress-text'), '9 / 9 runs');
    const strategies = await page.locator('#lab-results tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.strategy));
    assert.deepEqual(strategies, ['none', 'ttl', 'invalidate', 'write_through', 'refresh_ahead']);
    const hit = await page.textContent('#lab-results tr[data-strategy="none"] .hit-ratio');
    assert.equal(hit, '0.0 %');
    for (const chart of ['#lab-hit-chart', '#lab-p99-chart', '#lab-mysql-chart', '#lab-stale-chart']) {
      assert.ok(await page.locator(`${chart} .bar`).count() >= 5, `${chart} has its bars`);
    }
    assert.ok(await page.locator('#lab-sweep-hit .point').count() >= 4, 'the sweep draws both strategies at both TTLs');
    // The charts are hydrated like Compare's: a tooltip on hover and on keyboard focus, the legend hides a series.
    await page.hover('#lab-hit-chart [data-series="measured"] .bar >> nth=1');
    await page.waitForSelector('#lab-hit-chart-tip', { timeout: 5_000 });
    assert.match(await page.textContent('#lab-hit-chart-tip'), /^TTL: \d+\.\d % measured$/);
    await page.focus('#lab-sweep-stale .point >> nth=0');
    await page.waitForSelector('#lab-sweep-stale-tip', { timeout: 5_000 });
    assert.match(await page.textContent('#lab-sweep-stale-tip'), /at TTL 1 s: \d+\.\d % stale$/);
    const predicted = '#lab-hit-chart .legend-item[data-series="predicted"]';
    assert.equal(await page.locator('#lab-hit-chart [data-series="predicted"] .bar').count(), 5, 'every strategy is predicted');
    await page.focus(predicted);
    await page.keyboard.press('Enter');
    assert.equal(await page.getAttribute(predicted, 'aria-pressed'), 'false');
    assert.equal(await page.locator('#lab-hit-chart [data-series="predicted"] .bar').count(), 0);
    await page.click(predicted);
    assert.equal(await page.locator('#lab-hit-chart [data-series="predicted"] .bar').count(), 5);
    assert.match(await page.textContent('#lab-recommendation'), /^(Within the 1\.0 % stale-read budget, \w+ \(TTL \d+ s\) keeps the most reads from MySQL|No strategy stayed within the 1\.0 % stale-read budget)/);
    assert.equal(await page.locator('#lab-sweep tbody tr').count(), 4);
    assert.ok(await page.locator('#lab-history tbody tr').count() >= 1, 'the run is listed');
    const csv = await page.evaluate(async () => (await fetch(document.querySelector('#lab-export-csv').href)).text());
    assert.ok(csv.startsWith('strategy,ttl,sweep,'), csv);
    await page.screenshot({ path: 'target/screenshots/lab-results-desktop.png', fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: 'target/screenshots/lab-results-phone.png', fullPage: true });
    page.assertNoErrors();
  });
});
