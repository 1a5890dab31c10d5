// For `portolan-bench web`: loads tag pages in headless Chromium and says when each is complete.
//
// Chromium is launched once (its launch time is printed first, on its own); then, for every line
// read on standard input — `{"url": "…", "rows": 50}` — a fresh browser context (empty cache,
// no cookies) loads the URL and one JSON line is printed with the timings, in milliseconds from
// the navigation's start (the page's `performance.timeOrigin`):
//
//   {"url", "rows", "complete_rows", "first_byte", "dom_content_loaded", "load", "hydrated",
//    "complete", "html_complete_rows", "responses", "error"?}
//
// A page is complete when its tag table (`table[data-testid="tags"]`) has at least one row
// (`tbody tr[data-tag]`), exactly `rows` of them when `rows` is given, and every row has its
// details: a digest cell (`td[data-digest]`), which rows the server left pending do not have
// until the browser has read them (their placeholder cell says "…"). The moment is taken in the
// page, by a MutationObserver installed before the document exists, so it is the moment the
// DOM first holds every row — not when a poll from outside happens to look.
// `html_complete_rows` is how many rows were complete when the document finished parsing;
// `hydrated` is when the page's islands ran (`<html data-hydrated="true">`). `responses` lists
// every response the page received — `{"path", "method", "status", "encoding"}`, the path with
// its query, the encoding its Content-Encoding or null — so the benchmark can copy the files a
// page needs and check that two servers answered the browser alike.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.BENCH_PAGE_TIMEOUT_MS ?? 120_000);

// Runs in the page before any of its scripts.
function watchRows(expected) {
  const state = { complete: null, hydrated: null, rows: 0, completeRows: 0, htmlCompleteRows: null };
  window.__benchPage = state;
  const check = () => {
    if (state.hydrated === null && document.documentElement && document.documentElement.dataset.hydrated === 'true') {
      state.hydrated = performance.now();
    }
    if (state.complete !== null) return;
    const table = document.querySelector('table[data-testid="tags"]');
    if (!table) return;
    const rows = table.querySelectorAll('tbody tr[data-tag]');
    let done = 0;
    for (const row of rows) if (row.querySelector('td[data-digest]')) done += 1;
    state.rows = rows.length;
    state.completeRows = done;
    if (rows.length > 0 && done === rows.length && (expected == null || rows.length === expected)) {
      state.complete = performance.now();
      if (state.hydrated !== null) observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-digest', 'data-hydrated'] });
  document.addEventListener('DOMContentLoaded', () => {
    check();
    const table = document.querySelector('table[data-testid="tags"]');
    state.htmlCompleteRows = table ? table.querySelectorAll('tbody tr[data-tag] td[data-digest]').length : 0;
  });
}

async function measure(browser, { url, rows }) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // allHeaders(): the headers as received (headers() can be the provisional ones).
    const responses = [];
    page.on('response', (r) => {
      const u = new URL(r.url());
      const seen = { path: u.pathname + u.search, method: r.request().method(), status: r.status() };
      responses.push(r.allHeaders().then((h) => ({ ...seen, encoding: h['content-encoding'] ?? null }), () => ({ ...seen, encoding: null })));
    });
    await page.addInitScript(watchRows, rows ?? null);
    const response = await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT_MS });
    if (!response || !response.ok()) throw new Error(`${url}: ${response ? response.status() : 'no response'}`);
    let error;
    try {
      await page.waitForFunction(() => window.__benchPage && window.__benchPage.complete !== null, null, { timeout: TIMEOUT_MS, polling: 50 });
    } catch (e) {
      error = `not complete within ${TIMEOUT_MS} ms: ${e.message.split('\n')[0]}`;
    }
    // Hydration and the load event, if they have not happened yet, are not waited for long:
    // they are context only.
    await page.waitForFunction(() => window.__benchPage.hydrated !== null, null, { timeout: 10_000, polling: 50 }).catch(() => {});
    await page.waitForLoadState('load', { timeout: 5_000 }).catch(() => {});
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const s = window.__benchPage;
      return {
        first_byte: nav ? nav.responseStart : null,
        dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
        load: nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : null,
        complete: s.complete,
        hydrated: s.hydrated,
        complete_rows: s.completeRows,
        rows: s.rows,
        html_complete_rows: s.htmlCompleteRows,
      };
    });
    return { url, ...t, responses: await Promise.all(responses), ...(error ? { error } : {}) };
  } finally {
    await context.close();
  }
}

const launchStarted = performance.now();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
console.log(JSON.stringify({ launched: performance.now() - launchStarted }));

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let result;
  try {
    result = await measure(browser, JSON.parse(line));
  } catch (e) {
    result = { error: String(e && e.message ? e.message : e) };
  }
  console.log(JSON.stringify(result));
}
await browser.close();
