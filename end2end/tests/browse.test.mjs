// Browsing, end to end: registries → repositories → tags → artifact, in headless Chromium,
// against real registries; hydration and filtering as you type; error pages; no JavaScript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newPage, hydrated, noSecretsTest } from '../harness.mjs';

let stack;
before(async () => { stack = await startStack({ slowMs: 300 }); }, { timeout: 180_000 });
after(async () => { await stack?.stop(); });

test('navigates registry → repository → tags → artifact, after hydration', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/`);
    await hydrated(page);
    const names = await page.locator('[data-testid=registries] li').allInnerTexts();
    assert.equal(names.length, 7, names.join(' | '));
    await page.locator('a[href="/r/anonymous"]').click();
    await page.waitForURL(/\/r\/anonymous$/);
    // A link per repository (whatever else its row links to: a tag, a digest).
    const links = page.locator('[data-testid=repositories] a[href^="/r/anonymous/"]');
    await links.first().waitFor();
    const repos = await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')).filter((h) => !/[:@]/.test(h)).map((h) => h.slice('/r/anonymous/'.length)));
    assert.deepEqual(repos, ['acme/app', 'charts/portolan-demo', 'library/hello', 'stress/many-tags', 'team/platform/api']);

    await page.getByRole('link', { name: 'library/hello' }).click();
    await page.waitForURL(/\/r\/anonymous\/library\/hello$/);
    await page.locator('[data-testid=tags] tbody tr').first().waitFor();
    const tags = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    // Version order, newest first; the fallback and legacy referrer tags are hidden.
    assert.deepEqual(tags, ['2.0.0-rc.1', '1.1.0', '1.0.0', 'docker-v2', 'latest']);
    assert.match(await page.getByTestId('tag-count').innerText(), /5 tags · 3 referrer tags hidden/);
    const row = page.locator('tr[data-tag="1.1.0"]');
    await row.locator('[data-kind]').waitFor();
    assert.equal(await row.locator('[data-kind]').innerText(), 'image');
    const seed = stack.registries.find((r) => r.name === 'anonymous').seed.digests;
    assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), seed['hello:1.1.0']);
    // 1.1.0 and latest share a digest: marked as such.
    assert.equal(await row.locator('[data-siblings]').getAttribute('data-siblings'), 'latest');
    // SBOM, signature and attestation (the fallback index lists them).
    assert.equal((await row.locator('td').last().innerText()).trim(), '3');

    await row.getByRole('link', { name: '1.1.0' }).click();
    await page.waitForURL(/library\/hello:1\.1\.0$/);
    assert.equal(await page.getByTestId('permalink').getAttribute('href'), `/r/anonymous/library/hello@${seed['hello:1.1.0']}`);
    // The canonical URL of a tag page is the digest-pinned one; previews carry the artifact.
    assert.equal(await page.locator('link[rel=canonical]').getAttribute('href'), `/r/anonymous/library/hello@${seed['hello:1.1.0']}`);
    assert.equal(await page.locator('meta[property="og:title"]').getAttribute('content'), 'library/hello:1.1.0');
    // The annotation carries <script> and an onerror handler: shown as text, never run.
    assert.match(await page.getByTestId('manifest-json').innerText(), /<script>window\.__pwned=1<\/script>/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
});

test('filters as you type without reloading, and the URL carries the filter', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/stress/many-tags`);
    await hydrated(page);
    assert.match(await page.getByTestId('tag-count').innerText(), /^260 tags/);
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.getByLabel('Filter').pressSequentially('build-0001', { delay: 30 });
    await page.waitForURL(/\?q=build-0001$/);
    await page.waitForFunction(() => /of 260 tags match/.test(document.querySelector('[data-testid=tag-count]')?.textContent ?? ''));
    const tags = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.ok(tags.length > 0 && tags.every((t) => t.includes('build-0001')), tags.join(' '));
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    assert.equal(await page.getByLabel('Filter').inputValue(), 'build-0001', 'the filter box kept its text and focus');
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
});

test('pages through thousands of tags and sorts by name', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/stress/many-tags?sort=name`);
    await hydrated(page);
    assert.match(await page.getByRole('navigation', { name: 'Pages' }).innerText(), /Page 1 of 6/);
    const first = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.equal(first.length, 50);
    assert.deepEqual(first, [...first].sort());
    await page.getByRole('link', { name: 'Next →' }).click();
    await page.waitForURL(/sort=name&page=2$/);
    await page.waitForFunction(() => /Page 2 of 6/.test(document.querySelector('nav[aria-label=Pages]')?.textContent ?? ''));
    const second = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.equal(second.length, 50);
    assert.ok(second[0] > first[49], `${second[0]} after ${first[49]}`);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('sorts by creation date and shows referrer tags on request', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello`);
    await hydrated(page);
    await page.getByRole('link', { name: 'created' }).click();
    await page.waitForURL(/\?sort=created$/);
    await page.waitForFunction(() => document.querySelector('[data-testid=tags] tbody tr')?.dataset.tag === '2.0.0-rc.1' && location.search === '?sort=created');
    const byDate = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.deepEqual(byDate, ['2.0.0-rc.1', '1.1.0', 'latest', '1.0.0', 'docker-v2']);
    const title = await page.locator('tr[data-tag="1.0.0"] time').getAttribute('title');
    assert.match(title, /2025-01-10T12:00:00Z \(from the image config's created field\)/);

    await page.getByRole('link', { name: 'Show referrer tags' }).click();
    await page.waitForURL(/all=1/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=tags] tbody tr').length === 8);
    const all = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.equal(all.filter((t) => t.startsWith('sha256-')).length, 3);
    assert.ok(all.some((t) => t.endsWith('.sig')));
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('on a slow registry the page comes at once and the browser fills in the details', async () => {
  // Every manifest and blob request of `slow` answers 300 ms late: a page's details take
  // seconds, more than the server waits for them.
  const off = await newPage(stack.browser, { javaScriptEnabled: false });
  try {
    const started = Date.now();
    await off.page.goto(`${stack.baseUrl}/r/slow/stress/many-tags`);
    assert.ok(Date.now() - started < 5000, 'the page does not wait for all the details');
    assert.equal(await off.page.locator('[data-testid=tags] tbody tr').count(), 50, 'every name is there');
    const pending = await off.page.locator('[data-testid=tags] tbody tr:not(:has([data-kind]))').count();
    assert.ok(pending > 0, 'some rows are still pending when the page is sent');
    assert.deepEqual(off.errors(), [], 'no console errors');
  } finally {
    await off.context.close();
  }
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/slow/stress/many-tags?sort=name`);
    await hydrated(page);
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid=tags] tbody tr')];
      return rows.length === 50 && rows.every((r) => r.querySelector('[data-kind]'));
    }, null, { timeout: 30_000 });
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('browses a token-auth registry and a nested repository', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/token/team/platform/api`);
    const tags = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.deepEqual(tags, ['v1.0.0', 'latest']);
    const kind = page.locator('tr[data-tag="v1.0.0"] [data-kind]');
    await kind.waitFor();
    assert.equal(await kind.innerText(), 'index');
    assert.match(await page.locator('tr[data-tag="v1.0.0"]').innerText(), /linux\/amd64, linux\/arm64\/v8/);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('error pages: unreachable registry, missing repository, malformed names, unknown pages', async () => {
  // The error statuses themselves are expected (Chromium logs each as a console error).
  const { page, context, errors } = await newPage(stack.browser, {}, { expectedStatuses: [400, 404, 429, 502] });
  try {
    const cases = [
      ['/r/down', 502, /registry is unavailable/i],
      ['/r/limited/library/hello', 429, /rate limit.*retry in 3600 s/is],
      // The registry refusing Portolan's own credentials is not the visitor's sign-in: a 502
      // that shows the registry's status, with no sign-in link.
      ['/r/token-anonymous/library/hello', 502, /requires credentials/, '401'],
      ['/r/nope', 404, /no registry named "nope"/],
      ['/r/anonymous/no/such/repo', 404, /not found/i],
      ['/r/anonymous/Library/Hello', 400, /lowercase/],
      ['/r/anonymous/library/hello:bad..tag!', 400, /not a valid tag/],
      ['/r/anonymous/library/hello@sha256:abc', 400, /not a valid sha256 digest/],
      ['/r/anonymous/library/hello:no-such-tag', 404, /not found/i],
      ['/no/such/page', 404, /no page at this address/i],
    ];
    for (const [path, status, message, registryStatus] of cases) {
      const response = await page.goto(`${stack.baseUrl}${path}`);
      assert.equal(response.status(), status, path);
      const alert = page.getByRole('alert');
      assert.match(await alert.innerText(), message, path);
      assert.equal(await alert.getAttribute('data-error-status'), String(status), path);
      if (registryStatus) {
        assert.equal(await alert.getAttribute('data-registry-status'), registryStatus, path);
        assert.equal(await page.getByTestId('sign-in-link').count(), 0, `${path}: no sign-in link for the registry's refusal`);
      }
    }
    // A registry that asks for credentials to list its repositories while Portolan has none
    // (Docker Hub does this for everyone) has no catalog: the page says so and still opens
    // repositories by name.
    const response = await page.goto(`${stack.baseUrl}/r/token-anonymous`);
    assert.equal(response.status(), 200);
    assert.match(await page.getByTestId('no-catalog').innerText(), /asks for credentials to list/);
    assert.equal(await page.getByLabel('Repository name').count(), 1);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('the tag table works from the keyboard, and follows the dark colour scheme', async () => {
  const { page, context, errors } = await newPage(stack.browser, { colorScheme: 'dark' });
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello`);
    await hydrated(page);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const numbers = background.match(/\d+(\.\d+)?/g).map(Number);
    const dark = background.startsWith('oklch') ? numbers[0] < 0.3 : numbers[0] + numbers[1] + numbers[2] < 120;
    assert.ok(dark, `a dark background, not ${background}`);
    // From the filter box, Tab reaches the sort links, then the rows' links, in order.
    await page.getByLabel('Filter').focus();
    let reached = null;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.closest('tr[data-tag]')?.dataset.tag ?? null);
    }
    assert.equal(reached, '2.0.0-rc.1', 'the first row is reachable by keyboard');
    await page.keyboard.press('Enter');
    await page.waitForURL(/library\/hello:2\.0\.0-rc\.1$/);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('pages read without JavaScript', async () => {
  const { page, context, errors } = await newPage(stack.browser, { javaScriptEnabled: false });
  try {
    await page.goto(`${stack.baseUrl}/r/ferro/library/hello`);
    assert.equal(await page.title(), 'library/hello · ferro-oci-server (referrers API) · Portolan');
    const tags = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.deepEqual(tags, ['2.0.0-rc.1', '1.1.0', '1.0.0', 'docker-v2', 'latest']);
    // The filter works as a plain form.
    await page.getByLabel('Filter').fill('rc');
    await page.getByLabel('Filter').press('Enter');
    await page.waitForURL(/\?q=rc$/);
    const filtered = await page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.deepEqual(filtered, ['2.0.0-rc.1']);
    const og = await page.locator('meta[property="og:title"]').getAttribute('content');
    assert.match(og, /library\/hello on 127\.0\.0\.1:\d+/);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('one search box across registries, and where a digest is used — as you type, and without JavaScript', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    // Opening the artifact in two registries puts its manifest in the index (no crawl here).
    const digests = {};
    for (const registry of ['anonymous', 'ferro']) {
      await page.goto(`${stack.baseUrl}/r/${registry}/library/hello:1.1.0`);
      digests[registry] = await page.getByTestId('permalink').getAttribute('href').then((h) => h.split('@')[1]);
    }
    assert.equal(digests.anonymous, digests.ferro, 'the same image in both registries');
    const digest = digests.anonymous;

    // `/` anywhere focuses the box; typing lists repositories of every registry, grouped.
    await page.goto(`${stack.baseUrl}/`);
    await hydrated(page);
    await page.keyboard.press('/');
    const box = page.locator('#search-box');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'search-box');
    await box.pressSequentially('hello', { delay: 20 });
    await page.getByTestId('box-hit').first().waitFor({ timeout: 30_000 });
    const hits = await page.getByTestId('box-hit').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const registry of ['anonymous', 'ferro']) assert.ok(hits.includes(`/r/${registry}/library/hello`), hits.join(' '));
    // Enter goes to the results page, grouped by registry, each hit a link.
    await box.press('Enter');
    await page.waitForURL(/\/search\?q=hello$/);
    const groups = await page.locator('[data-testid=search-results] section[data-registry]').evaluateAll((s) => s.map((e) => e.dataset.registry));
    assert.ok(groups.includes('anonymous') && groups.includes('ferro'), groups.join(' '));

    // repository:tag.
    await page.goto(`${stack.baseUrl}/search?q=${encodeURIComponent('library/hello:1.1.0')}`);
    const tagHits = await page.getByTestId('hit').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.ok(tagHits.includes('/r/ferro/library/hello:1.1.0'), tagHits.join(' '));

    // A digest, by its first 12 digits: where it is used, in both registries.
    await hydrated(page);
    await box.fill(digest.slice(0, 7 + 12));
    await box.press('Enter');
    await page.waitForURL(/\/search\?q=sha256/);
    const summary = await page.getByTestId('used-summary').innerText();
    assert.match(summary, /in [2-9] registries/);
    const places = await page.locator('[data-testid=used-places] section[data-registry]').evaluateAll((s) => s.map((e) => e.dataset.registry));
    assert.ok(places.includes('anonymous') && places.includes('ferro'), places.join(' '));
    assert.ok((await page.getByTestId('use-tag').allInnerTexts()).some((t) => t.includes('1.1.0')));
    assert.equal(await page.getByTestId('coverage').count(), 1, 'the page says what the index covers');

    // The artifact page says who else uses it.
    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello@${digest}`);
    const also = page.getByTestId('also-used');
    await also.locator('section[data-registry=ferro]').waitFor({ timeout: 30_000 });
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }

  // Without JavaScript: the box is a plain form, the results a plain page.
  const plain = await newPage(stack.browser, { javaScriptEnabled: false });
  try {
    await plain.page.goto(`${stack.baseUrl}/r/anonymous`);
    await plain.page.locator('#search-box').fill('platform');
    await plain.page.locator('#search-box').press('Enter');
    await plain.page.waitForURL(/\/search\?q=platform$/);
    const hits = await plain.page.getByTestId('hit').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.ok(hits.includes('/r/anonymous/team/platform/api'), hits.join(' '));
    await plain.page.goto(`${stack.baseUrl}/search?q=no-such-thing-anywhere`);
    // Nothing found (registries that could not be asked — this stack has one that is down —
    // are named with why, instead of a bare "nothing").
    await plain.page.getByTestId('search-results').waitFor();
    assert.equal(await plain.page.getByTestId('hit').count(), 0);
    assert.deepEqual(plain.errors(), [], 'no console errors');
  } finally {
    await plain.context.close();
  }
});

test('no configured secret in any response or in the server log', async () => {
  await noSecretsTest(stack, assert);
});
