import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, openHydrated, withBrowser } from './browser.mjs';

const elapsedUs = async (page) => Number(await page.getAttribute('#elapsed', 'data-us'));

test('Query Cache twice after Delete Cache: a miss, then a faster hit; the TTL counts down', async () => {
  await withBrowser(async (browser) => {
    const del = await openHydrated(browser, '/delete');
    await del.click('#delete-cache');
    await del.waitForSelector('#deleted', { timeout: 10_000 });

    const page = await openHydrated(browser, '/cache');
    await page.click('#run-query');
    await page.waitForSelector('#banner[data-hit="false"]', { timeout: 15_000 });
    assert.match(await page.textContent('#banner'), /Cache miss/);
    assert.equal(await page.textContent('#row-count'), '500');
    const missUs = await elapsedUs(page);

    await page.click('#run-query');
    await page.waitForSelector('#banner[data-hit="true"]', { timeout: 15_000 });
    assert.match(await page.textContent('#banner'), /Cache hit/);
    // One server-side time on a shared two-core machine can catch a stall (one CI run saw a 16 ms hit after an
    // 8 ms miss), so the hit's time is its best of three presses; each press must still be a hit.
    const hits = [await elapsedUs(page)];
    for (let i = 0; i < 2; i++) {
      const before = await page.getAttribute('#elapsed', 'data-us');
      await page.click('#run-query');
      await page.waitForFunction((b) => document.querySelector('#elapsed')?.dataset.us !== b, before, { timeout: 15_000 })
        .catch(() => {});
      assert.equal(await page.getAttribute('#banner', 'data-hit'), 'true');
      hits.push(await elapsedUs(page));
    }
    const hitUs = Math.min(...hits);
    assert.ok(hitUs < missUs, `hits ${hits.join(', ')} µs: none faster than the miss's ${missUs} µs`);

    const ttlNow = Number(await page.getAttribute('#ttl .ttl', 'data-seconds'));
    await page.waitForFunction(
      (t) => Number(document.querySelector('#ttl .ttl')?.dataset.seconds) < t, ttlNow, { timeout: 5_000 });
    assert.match(await page.textContent('#elapsed'), /^\d+\.\d{2} ms$/);
    await page.screenshot({ path: 'target/e2e-query-cache.png', fullPage: false });
    page.assertNoErrors();
  });
});

test('Query MySQL shows the rows and the server time', async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/mysql');
    await page.fill('input[name="limit"]', '25');
    await page.click('#run-query');
    await page.waitForSelector('#banner[data-source="mysql"]', { timeout: 15_000 });
    assert.equal(await page.textContent('#row-count'), '25');
    assert.equal(await page.locator('table.rows tbody tr').count(), 25);
    const sentences = await page.locator('table.rows tbody td:nth-child(2)').allTextContents();
    assert.ok(sentences.every((s) => s.includes('delta')), 'a row does not match the term');
    // The test before left cache hits in the record: MySQL's time is set against their median.
    assert.match(await page.textContent('#versus'), /^\d+\.\d× (faster|slower) than the Cache hit median \(\d+\.\d{2} ms\)$/);
    page.assertNoErrors();
  });
});

test("Chromium's fetch decodes a hit sent compressed as stored to the plain answer's rows", async () => {
  await withBrowser(async (browser) => {
    const page = await openHydrated(browser, '/');
    const url = '/api/query/cache?term=delta&limit=300&ttl=300';
    // Node's http sends no Accept-Encoding: the plain answer of the same entry, after one fill.
    const { get } = await import('node:http');
    const plain = () => new Promise((resolve, reject) => get(BASE + url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject));
    await plain();
    const fromBrowser = await page.evaluate(async (u) => {
      const r = await fetch(u);
      return { text: await r.text(), length: Number(r.headers.get('content-length')) };
    }, url);
    const direct = await plain();
    assert.equal(direct.encoding, undefined);
    const [viaChromium, viaPlain] = [JSON.parse(fromBrowser.text), JSON.parse(direct.body)];
    assert.equal(viaChromium.hit, true);
    assert.ok(fromBrowser.length > 0 && fromBrowser.length * 4 < direct.body.length, `sent ${fromBrowser.length} B compressed for ${direct.body.length} B`);
    const rowsOf = (text) => text.slice(text.indexOf('"rows":'));
    assert.equal(rowsOf(fromBrowser.text), rowsOf(direct.body), 'the rows, byte for byte');
    page.assertNoErrors();
  });
});
