// Signature verification end to end: the demo's acme/app (signed with the CI key as a .sig tag
// and as an OCI 1.1 referrer, by an unknown key, unsigned, a signature copied from another tag,
// a Notary Project signature) judged by the trust policy portolan-testkit writes — the tag
// list's signature column and filter, the artifact page's per-signature outcomes, the referrer
// graph — on a registry with the referrers API (ferro) and one with the fallback tag (distribution).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newPage, hydrated, noSecretsTest } from '../harness.mjs';

let stack;
let seed;
before(async () => {
  stack = await startStack({ kinds: ['anonymous', 'ferro', 'token'], manyTags: 0 });
  seed = Object.fromEntries(stack.registries.filter((r) => r.seed).map((r) => [r.name, r.seed.digests]));
}, { timeout: 180_000 });
after(async () => { await stack?.stop(); });

/** (tag, outcome) of every row once each row's signature cell is filled (the browser completes
 * rows the server left pending). */
async function outcomes(page) {
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=tags] tbody tr')];
    return rows.length > 0 && rows.every((r) => r.querySelector('[data-testid=verification] [data-outcome]'));
  }, null, { timeout: 60_000 });
  return page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) =>
    rows.map((r) => [r.dataset.tag, r.querySelector('[data-testid=verification] [data-outcome]').dataset.outcome]));
}

for (const registry of ['ferro', 'anonymous']) {
  test(`${registry}: the tag list shows each tag's verification, and filters by it`, async () => {
    const { page, context, errors } = await newPage(stack.browser);
    try {
      await page.goto(`${stack.baseUrl}/r/${registry}/acme/app`);
      await hydrated(page);
      const all = Object.fromEntries(await outcomes(page));
      assert.deepEqual(all, {
        '2.0.0': 'verified', '1.4.0': 'not-verified', '1.3.0': 'unsigned', '1.2.0': 'not-verified',
        '1.1.0': 'verified', '1.0.0': 'verified', latest: 'unsigned',
      });
      // The reason is in the cell: its label, and the summary on hover.
      const stranger = page.locator('tr[data-tag="1.2.0"] [data-testid=verification] [data-outcome]');
      assert.equal(await stranger.innerText(), 'unknown key');
      assert.match(await stranger.getAttribute('title'), /not verified: made with a key policy acme-ci does not trust/);
      assert.equal(await page.locator('tr[data-tag="1.4.0"] [data-testid=verification] [data-outcome]').innerText(), 'payload for another digest');

      await page.locator('[data-verified-filter=yes]').click();
      await page.waitForURL(/\?verified=yes$/);
      await hydrated(page);
      assert.deepEqual(await outcomes(page), [['2.0.0', 'verified'], ['1.1.0', 'verified'], ['1.0.0', 'verified']]);
      assert.equal(await page.locator('[data-verified-filter=yes]').getAttribute('aria-current'), 'true');

      await page.locator('[data-verified-filter=no]').click();
      await page.waitForURL(/\?verified=no$/);
      await hydrated(page);
      const not = (await outcomes(page)).map(([t]) => t).sort();
      assert.deepEqual(not, ['1.2.0', '1.3.0', '1.4.0', 'latest']);
      // Typing a filter keeps the signature filter.
      await page.locator('#tag-filter').fill('1.');
      await page.waitForURL(/q=1\./);
      assert.match(page.url(), /verified=no/);
      assert.deepEqual(errors(), [], 'no console errors');
    } finally {
      await context.close();
    }
  });

  test(`${registry}: the artifact page and the referrer graph show each signature's outcome`, async () => {
    const { page, context, errors } = await newPage(stack.browser);
    try {
      await page.goto(`${stack.baseUrl}/r/${registry}/acme/app:1.1.0`);
      await hydrated(page);
      const summary = page.locator('p[data-testid=verification]');
      assert.equal(await summary.getAttribute('data-outcome'), 'verified');
      assert.match(await summary.innerText(), /verified by policy acme-ci \(acme release key\)/);
      const sig = seed[registry]['acme:1.1.0/signature'];
      const row = page.locator(`[data-testid=signatures] tr[data-signature="${sig}"]`);
      assert.equal(await row.getAttribute('data-outcome'), 'verified');
      assert.match(await row.innerText(), /cosign \(key\)/);
      assert.match(await row.innerText(), /referrers API|fallback tag/);
      // The referrers table says it too, and the verified badge is offered.
      assert.equal(await page.locator(`[data-testid=referrers] tr[data-referrer="${sig}"] [data-outcome]`).getAttribute('data-outcome'), 'verified');
      assert.ok(await page.locator('img[src$="/verified.svg"]').count() > 0, 'the verified badge');

      // A signature copied from another tag: its own reason.
      await page.goto(`${stack.baseUrl}/r/${registry}/acme/app:1.4.0`);
      assert.equal(await page.locator('p[data-testid=verification]').getAttribute('data-outcome'), 'not-verified');
      const copied = page.locator('[data-testid=signatures] tbody tr').first();
      assert.equal(await copied.getAttribute('data-reason'), 'wrong-digest');
      assert.match(await copied.getByTestId('signature-reason').innerText(), new RegExp(`signs ${seed[registry]['acme:1.0.0']}, not this artifact`));

      // Notary Project, and the graph.
      await page.goto(`${stack.baseUrl}/r/${registry}/acme/app:2.0.0/-/referrers`);
      const node = page.locator(`[data-node="${seed[registry]['acme:2.0.0/signature']}"]`);
      assert.equal(await node.getAttribute('data-outcome'), 'verified');
      assert.match(await node.locator('text').first().textContent(), /signature · verified/);
      await page.goto(`${stack.baseUrl}/r/${registry}/acme/app:1.2.0`);
      assert.equal(await page.locator('[data-testid=signatures] tbody tr').first().getAttribute('data-reason'), 'unknown-key');
      assert.deepEqual(errors(), [], 'no console errors');
    } finally {
      await context.close();
    }
  });
}

test('the JSON API answers a deploy gate', async () => {
  const ok = await fetch(`${stack.baseUrl}/api/v1/verify/ferro/acme/app:1.0.0?require=verified`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(ok.status, 200);
  const body = await ok.json();
  assert.equal(body.outcome, 'verified');
  assert.equal(body.signatures[0].foundThrough, 'cosign .sig tag');
  const refused = await fetch(`${stack.baseUrl}/api/v1/verify/ferro/acme/app:1.2.0?require=verified`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(refused.status, 412);
  assert.equal((await refused.json()).reason, 'unknown-key');
});

test('no secret showed up anywhere', async () => {
  await noSecretsTest(stack, assert);
});
