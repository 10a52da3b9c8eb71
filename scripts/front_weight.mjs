// What a browser downloads to make each page interactive: the WASM and JavaScript under /pkg/, in bytes as sent
// (gzip where the browser asked for it), read from Chromium's resource timing after the page hydrated, each page
// in a fresh browser context (nothing cached). Prints one JSON object, { "<path>": { "bytes": …, "files": {…} } },
// or with --markdown a table and the largest page against the budget.
//
//   CACHELENS_URL=http://127.0.0.1:18090 node scripts/front_weight.mjs [--markdown] / /lab …
//
// Used by scripts/bench for the front-end budget (400 KiB per page). A lazy page's chunks load during hydration,
// and `data-hydrated`, which openHydrated waits for, is set only after them.
import { openHydrated, withBrowser } from '../end2end/browser.mjs';

const BUDGET = 400 * 1024;
const markdown = process.argv.includes('--markdown');
const paths = process.argv.slice(2).filter((a) => a !== '--markdown');
if (paths.length === 0) {
  console.error('usage: node scripts/front_weight.mjs PATH…');
  process.exit(2);
}

const weights = await withBrowser(async (browser) => {
  const out = {};
  for (const path of paths) {
    const context = await browser.newContext();
    const page = await openHydrated(context, path);
    await page.waitForLoadState('networkidle');
    const files = await page.evaluate(() => {
      const seen = {};
      for (const e of performance.getEntriesByType('resource')) {
        const name = new URL(e.name).pathname;
        if (name.startsWith('/pkg/') && /\.(wasm|js)$/.test(name)) seen[name] = Math.max(seen[name] ?? 0, e.encodedBodySize);
      }
      return seen;
    });
    page.assertNoErrors();
    out[path] = { bytes: Object.values(files).reduce((a, b) => a + b, 0), files };
    await context.close();
  }
  return out;
});
const kib = (n) => (n / 1024).toFixed(0);
if (markdown) {
  // Files grouped by role: the main bundle every page loads, the page's own chunk, the chunks pages share.
  const role = (f) => (/^\/pkg\/split_/.test(f) ? 'own' : /^\/pkg\/chunk_/.test(f) ? 'shared' : 'main');
  console.log('| page | KiB | main bundle (WASM, JS, split loader) | page chunk | shared chunks | requests |');
  console.log('|---|---|---|---|---|---|');
  for (const [path, w] of Object.entries(weights)) {
    const sum = { main: 0, own: 0, shared: 0 };
    const count = { main: 0, own: 0, shared: 0 };
    for (const [f, n] of Object.entries(w.files)) {
      sum[role(f)] += n;
      count[role(f)] += 1;
    }
    const cell = (r) => (count[r] ? `${kib(sum[r])}${count[r] > 1 && r !== 'main' ? ` (${count[r]} files)` : ''}` : '–');
    console.log(`| ${path} | ${kib(w.bytes)} | ${cell('main')} | ${cell('own')} | ${cell('shared')} | ${Object.keys(w.files).length} |`);
  }
  const [worst, w] = Object.entries(weights).sort((a, b) => b[1].bytes - a[1].bytes)[0];
  console.log(`\nLargest: ${worst}, ${kib(w.bytes)} KiB: ${w.bytes <= BUDGET ? 'within' : 'OVER'} the 400 KiB budget.`);
} else {
  console.log(JSON.stringify(weights, null, 2));
}
