import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { BASE, openHydrated, withBrowser } from './browser.mjs';

mkdirSync('target/screenshots', { recursive: true });

test('Compare: runs appear on the chart, hovering shows a tooltip, the legend hides a path', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/compare');
    // Earlier tests may have recorded runs already: wait for this press's ten MySQL runs on top of them.
    const before = await page.locator('#timeline .series[data-series="mysql"] .point').count();
    await page.click('#run-sample');
    await page.waitForFunction(
      (n) => document.querySelectorAll('#timeline .series[data-series="mysql"] .point').length >= n + 10,
      before, { timeout: 30_000 });
    await page.waitForSelector('#timeline .series[data-series="hit"] .point');
    assert.match(await page.textContent('#speedup'), /faster than MySQL/);
    const mysqlPoints = page.locator('#timeline .series[data-series="mysql"] .point');

    await mysqlPoints.first().hover();
    await page.waitForSelector('#timeline-tip', { timeout: 5_000 });
    assert.match(await page.textContent('#timeline-tip'), /run \d+ · MySQL · \d+\.\d+ ms/);

    await page.click('#timeline .legend-item[data-series="mysql"]');
    await page.waitForFunction(() => !document.querySelector('#timeline .series[data-series="mysql"]'));
    assert.equal(await page.getAttribute('#timeline .legend-item[data-series="mysql"]', 'aria-pressed'), 'false');
    await page.click('#timeline .legend-item[data-series="mysql"]');
    await page.waitForSelector('#timeline .series[data-series="mysql"] .point');
    assert.ok(await page.locator('#distribution .bar').count() > 0);
    await page.screenshot({ path: 'target/screenshots/compare.png', fullPage: true });
    page.assertNoErrors();
  });
});

test('Benchmark: start, watch progress, get the chart and table, download the CSV', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/bench');
    await page.fill('#bench-iterations', '3000');
    await page.fill('#bench-concurrency', '2');
    await page.click('#bench-start');
    // Progress while it runs: part of the requests done, the bar between empty and full.
    await page.waitForFunction(() => {
      const bar = document.querySelector('#bench-progress');
      return bar && bar.value > 0 && bar.value < bar.max;
    }, null, { timeout: 30_000, polling: 50 });
    assert.equal(await page.textContent('#bench-state'), 'running');
    await page.waitForSelector('#bench-run[data-state="done"]', { timeout: 120_000 });

    const rows = page.locator('#bench-results tbody tr');
    assert.equal(await rows.count(), 2);
    assert.ok(await page.locator('#bench-chart .series[data-series="cache"] .bar').count() === 4);
    assert.ok(await page.locator('#bench-distribution .bar').count() > 0);
    const mysqlP50 = Number(await page.getAttribute('#bench-results tr[data-path="mysql"] td[data-us]', 'data-us'));
    const cacheP50 = Number(await page.getAttribute('#bench-results tr[data-path="cache"] td[data-us]', 'data-us'));
    assert.ok(cacheP50 < mysqlP50, `cache p50 ${cacheP50} µs not below MySQL p50 ${mysqlP50} µs`);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
    assert.match(csv[0], /^path,count,errors,p50_us/);
    assert.match(csv[1], /^mysql,3000,0,/);
    assert.match(csv[2], /^cache,3000,0,/);

    await page.waitForSelector('#bench-history tbody tr');
    await page.screenshot({ path: 'target/screenshots/benchmark.png', fullPage: true });

    // The run is kept (MySQL's run history) until its Delete button removes it, for every server.
    const id = await page.getAttribute('#bench-run', 'data-id');
    const row = page.locator('#bench-history tbody tr', { has: page.locator(`button[aria-label="delete run ${id}"]`) });
    assert.equal(await row.count(), 1, `run ${id} is listed with its Delete button`);
    assert.equal((await fetch(`${BASE}/api/bench/${id}`)).status, 200);
    await row.locator('button.delete-run').click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal((await fetch(`${BASE}/api/bench/${id}`)).status, 404, 'deleted on the server too');
    page.assertNoErrors();
  });
});

test('Benchmark: two kept runs compared side by side, chosen from the list', async () => {
  // Two finished runs of different sizes, started through the API.
  const ids = [];
  for (const iterations of [30, 10]) {
    const started = await fetch(`${BASE}/api/bench`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ iterations, concurrency: 1, paths: ['mysql'], warmup: 0 }),
    });
    assert.equal(started.status, 202);
    const { id } = await started.json();
    for (let i = 0; i < 300; i++) {
      const runs = await (await fetch(`${BASE}/api/runs?kind=bench`)).json();
      if (runs.some((r) => r.id === id && r.saved)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    ids.push(id);
  }
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/bench');
    await page.waitForSelector('#bench-compare');
    await page.selectOption('#bench-compare-a', String(ids[0]));
    await page.selectOption('#bench-compare-b', String(ids[1]));
    // By keyboard: the button takes focus and Enter submits.
    await page.focus('#bench-compare-go');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#bench-comparison[data-a="${ids[0]}"][data-b="${ids[1]}"]`, { timeout: 15_000 });
    const row = page.locator('#bench-comparison tr[data-group="mysql"][data-metric="requests answered"] td');
    assert.deepEqual(await row.allTextContents(), ['mysql', 'requests answered', '30', '10', '−67 %']);
    assert.equal(await page.locator('#bench-comparison tr[data-metric="p50"]').count(), 1);
    await page.screenshot({ path: 'target/screenshots/benchmark-compare.png', fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: 'target/screenshots/benchmark-compare-phone.png', fullPage: true });
    page.assertNoErrors();
  });
});

test('Custom SQL: a SELECT runs and is cached; a write is refused with its reason', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/sql');
    await page.fill('#sql', 'select OBJECTID, Title from articles where OBJECTID < 6 order by OBJECTID');
    await page.click('#run-sql');
    await page.waitForSelector('#banner', { timeout: 15_000 });
    assert.equal(await page.textContent('#row-count'), '5');
    assert.match(await page.textContent('#ran-sql'), /LIMIT 5000$/);
    await page.click('#run-sql');
    await page.waitForSelector('#banner[data-hit="true"]', { timeout: 15_000 });

    await page.fill('#sql', 'select 1; drop table articles');
    await page.click('#run-sql');
    await page.waitForSelector('#query-error', { timeout: 15_000 });
    assert.match(await page.textContent('#query-error'), /one statement/);
  });
});
