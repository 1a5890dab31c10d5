// Where the bytes are, end to end: the storage page of a crawled registry and a repository's
// storage tab in headless Chromium — light, dark, phone width and without JavaScript — with
// charts drawn on the server whose bars match the tables beside them and the JSON API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newPage, hydrated, noSecretsTest } from '../harness.mjs';

let stack;
before(async () => {
  stack = await startStack({ kinds: ['anonymous', 'token'], manyTags: 30, crawl: true });
  // The crawl starts a few seconds after Portolan: wait for a whole pass.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await fetch(`${stack.baseUrl}/api/v1/storage/anonymous`, { signal: AbortSignal.timeout(10_000) });
    const body = r.ok ? await r.json() : null;
    if (body?.freshness?.complete) break;
    if (Date.now() > deadline) throw new Error(`the crawl did not finish a pass: ${JSON.stringify(body?.freshness)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}, { timeout: 240_000 });
after(async () => { await stack?.stop(); });

/** The bars of the chart and the rows of the table beside it: repository → figures. */
async function barsAndRows(page) {
  const read = (selector) => page.locator(selector).evaluateAll((els) => els.map((e) => [e.dataset.repository, e.dataset.unique, e.dataset.shared, e.dataset.stored]));
  return { bars: await read('[data-testid=storage-chart] [data-repository]'), rows: await read('[data-testid=storage-chart-table] tr[data-repository]') };
}

test('the registry storage page: totals, a chart and its table, sorted, matching the JSON', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    const json = await (await fetch(`${stack.baseUrl}/api/v1/storage/anonymous`, { signal: AbortSignal.timeout(10_000) })).json();
    await page.goto(`${stack.baseUrl}/r/anonymous`);
    await hydrated(page);
    await page.getByTestId('storage-link').click();
    await page.waitForURL(/\/r\/anonymous\/-\/storage$/);
    assert.equal(await page.getByTestId('freshness').getAttribute('data-complete'), 'true');
    assert.equal(Number(await page.getByTestId('stored').getAttribute('data-value')), json.stored_bytes);
    assert.ok(json.stored_bytes > 0);
    const { bars, rows } = await barsAndRows(page);
    assert.ok(bars.length >= 3, `bars: ${JSON.stringify(bars)}`);
    assert.deepEqual(bars, rows, 'every bar has its row in the table, with the same figures');
    assert.deepEqual(bars.map((b) => b[0]), json.largest.map((r) => r.repository));
    // Each bar is as long as its share of the largest.
    const widths = await page.locator('[data-testid=storage-chart] [data-repository]').evaluateAll((as) => as.map((a) => {
      const [u, s] = [...a.querySelectorAll('rect')].map((r) => Number(r.getAttribute('width')));
      return [u + s, Number(a.dataset.stored)];
    }));
    const [maxWidth, maxStored] = widths[0];
    for (const [w, stored] of widths) assert.ok(Math.abs(w - Math.round(maxWidth * stored / maxStored)) <= 1, `${w} for ${stored}`);
    // Sorted by name through the table's header: A to Z.
    await page.locator('[data-testid=storage-table] a[data-sort=name]').click();
    await page.waitForURL(/sort=name/);
    const names = await page.locator('[data-testid=storage-table] tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.repository));
    assert.deepEqual(names, [...names].sort());
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
});

test('a repository storage tab: history chart with its table, largest layers linking to where-used', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello`);
    await hydrated(page);
    await page.getByTestId('repository-tabs').getByRole('link', { name: 'Storage' }).click();
    await page.waitForURL(/library\/hello\/-\/storage$/);
    const columns = await page.locator('[data-testid=history-chart] [data-period]').evaluateAll((gs) => gs.map((g) => [g.dataset.period, g.dataset.bytes]));
    assert.ok(columns.length >= 1);
    const rows = await page.locator('[data-testid=history-table] tr[data-period]').evaluateAll((rs) => rs.map((r) => [r.dataset.period, r.dataset.bytes]));
    // The table lists the periods that added something, newest first; the chart every period.
    assert.deepEqual(rows, columns.filter(([, b]) => b !== '0').reverse());
    const json = await (await fetch(`${stack.baseUrl}/api/v1/storage/anonymous/library/hello`, { signal: AbortSignal.timeout(10_000) })).json();
    const sum = json.history.reduce((a, b) => a + b.bytes, 0);
    assert.equal(sum, json.figures.unique_bytes + json.figures.shared_bytes, 'every blob in one period');
    const layer = page.locator('[data-testid=largest-layers] tbody tr').first();
    const digest = await layer.getAttribute('data-digest');
    await layer.getByRole('link').first().click();
    await page.waitForURL((u) => decodeURIComponent(u.pathname) === `/digest/${digest}`);
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
});

test('charts read in dark mode, at phone width, and without JavaScript', async () => {
  for (const options of [{ colorScheme: 'dark' }, { viewport: { width: 390, height: 844 } }, { javaScriptEnabled: false }]) {
    const { page, context, errors } = await newPage(stack.browser, options);
    try {
      await page.goto(`${stack.baseUrl}/r/anonymous/-/storage`);
      const chart = page.getByTestId('storage-chart');
      await chart.waitFor();
      const { bars, rows } = await barsAndRows(page);
      assert.ok(bars.length >= 3);
      assert.deepEqual(bars, rows, JSON.stringify(options));
      // The chart's text takes the page's colour: light on dark, dark on light.
      const [text, background] = await page.evaluate(() => [getComputedStyle(document.querySelector('[data-testid=storage-chart]')).color, getComputedStyle(document.body).backgroundColor]);
      const luminance = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      assert.ok(Math.abs(luminance(text) - luminance(background)) > 100, `${text} on ${background} (${JSON.stringify(options)})`);
      if (options.viewport) {
        // Nothing wider than the phone but the scrolling tables; the chart fits.
        const box = await chart.boundingBox();
        assert.ok(box.width <= 390, `the chart is ${box.width} px wide`);
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
      }
      assert.deepEqual(errors(), []);
    } finally {
      await context.close();
    }
  }
});

test('no secret in any response or in the log', async () => {
  await noSecretsTest(stack, assert);
});
