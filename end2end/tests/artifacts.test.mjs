// Artifact pages end to end: images, indexes with attestations, Helm charts, SBOMs, signatures,
// attestations, the referrer graph (SVG and JSON), blobs, diffs and badges — on a registry with
// the referrers API (ferro) and one with the fallback tag schema (distribution).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newPage, hydrated, noSecretsTest } from '../harness.mjs';

let stack;
let seed;
before(async () => {
  stack = await startStack({ kinds: ['anonymous', 'ferro', 'token'], manyTags: 0, bearer: true });
  seed = Object.fromEntries(stack.registries.filter((r) => r.seed).map((r) => [r.name, r.seed.digests]));
}, { timeout: 180_000 });
after(async () => { await stack?.stop(); });

const texts = (page, selector) => page.locator(selector).allInnerTexts();

test('an image: config, layers, annotations rendered inert, referrers, raw JSON with digest links', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello:1.1.0`);
    await hydrated(page);
    assert.match(await page.getByTestId('summary').innerText(), /image/);
    assert.match(await page.getByTestId('pull-commands').innerText(), /docker pull 127\.0\.0\.1:\d+\/library\/hello:1\.1\.0/);
    assert.match(await page.getByTestId('pull-commands').innerText(), /podman pull/);
    const facts = await page.getByTestId('config-facts').innerText();
    assert.match(facts, /entrypoint\s+\/bin\/hello/);
    assert.match(facts, /platform\s+linux\/amd64/);
    assert.match(await page.getByTestId('labels').innerText(), /org\.opencontainers\.image\.version\s+1\.1\.0/);
    assert.equal(await page.locator('[data-testid=layers] tbody tr').count(), 1);
    assert.equal(await page.locator('[data-testid=history] tbody tr').count(), 2);
    // Hostile annotation: text, not markup; the 5,000-character one is folded.
    const annotations = await page.getByTestId('annotations').innerText();
    assert.match(annotations, /<script>window\.__pwned=1<\/script>/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.locator('[data-testid=annotations] details').count(), 1);
    // Three referrers through the fallback tag.
    const kinds = await page.locator('[data-testid=referrers] [data-kind]').evaluateAll((els) => els.map((e) => e.dataset.kind).sort());
    assert.deepEqual(kinds, ['attestation', 'sbom', 'signature']);
    assert.match(await page.getByTestId('referrers').innerText(), /fallback tag/);
    // The config digest in the raw JSON opens the blob page.
    const d = seed.anonymous['hello:1.1.0'];
    await page.locator('[data-testid=manifest-json] a').first().click();
    await page.waitForURL(/\/-\/blob\/sha256:/);
    await page.getByTestId('blob-json').waitFor();
    assert.match(await page.getByTestId('blob-json').innerText(), /"created": "2025-06-01T12:00:00Z"/);
    assert.ok(d.startsWith('sha256:'));
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
});

test('an index: platforms with their buildx attestations, each a link', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/team/platform/api:v1.0.0`);
    const platforms = await page.locator('[data-testid=platforms] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.platform));
    assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64/v8']);
    assert.equal(await page.locator('[data-testid=platforms] [data-attestation]').count(), 2, 'each platform shows its attestation manifest');
    assert.equal(await page.getByText('unknown/unknown').count(), 0, 'attestations are not shown as platforms');
    await page.locator('tr[data-platform="linux/arm64/v8"] a').first().click();
    await page.waitForURL(new RegExp(`@${seed.anonymous['api:v1.0.0/arm64']}$`));
    assert.match(await page.getByTestId('config-facts').innerText(), /linux\/arm64\/v8/);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('artifact panels: Helm chart, SBOM, signatures, attestation', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/ferro/charts/portolan-demo:0.2.0`);
    assert.match(await page.getByTestId('panel').innerText(), /Helm chart portolan-demo 0\.2\.0/);
    assert.match(await page.getByTestId('values-yaml').innerText(), /replicaCount: 2/);
    assert.match(await page.getByTestId('pull-commands').innerText(), /helm pull oci:\/\/127\.0\.0\.1:\d+\/charts\/portolan-demo --version 0\.2\.0/);

    const s = seed.ferro;
    await page.goto(`${stack.baseUrl}/r/ferro/library/hello@${s['hello:1.1.0/sbom']}`);
    assert.match(await page.getByTestId('panel').innerText(), /SBOM · SPDX/);
    assert.match(await page.getByTestId('sbom-count').innerText(), /4 packages/);
    assert.match(await page.getByTestId('sbom-packages').innerText(), /openssl 3\.1\.4/);
    assert.match(await page.getByTestId('subject').innerText(), /Refers to/);
    await page.getByTestId('subject').getByRole('link').click();
    await page.waitForURL(new RegExp(`@${s['hello:1.1.0']}$`));

    await page.goto(`${stack.baseUrl}/r/ferro/library/hello@${s['hello:1.1.0/signature']}`);
    assert.match(await page.getByTestId('panel').innerText(), /Signature · sigstore bundle/);
    assert.equal(await page.getByTestId('signed-digest').innerText(), s['hello:1.1.0']);

    await page.goto(`${stack.baseUrl}/r/ferro/library/hello@${s['hello:1.0.0/legacy-signature']}`);
    assert.match(await page.getByTestId('panel').innerText(), /cosign \(simple signing\)/);
    assert.equal(await page.getByTestId('signed-digest').innerText(), s['hello:1.0.0']);

    await page.goto(`${stack.baseUrl}/r/ferro/library/hello@${s['hello:1.1.0/sbom/signature']}`);
    assert.match(await page.getByTestId('panel').innerText(), /Notary Project/);

    await page.goto(`${stack.baseUrl}/r/ferro/library/hello@${s['hello:1.1.0/attestation']}`);
    assert.equal(await page.getByTestId('predicate-type').innerText(), 'https://slsa.dev/provenance/v1');
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('the referrer graph: SVG without JavaScript, a filter, links, and JSON', async () => {
  const { page, context, errors } = await newPage(stack.browser, { javaScriptEnabled: false });
  try {
    for (const registry of ['anonymous', 'ferro']) {
      const s = seed[registry];
      await page.goto(`${stack.baseUrl}/r/${registry}/library/hello:1.1.0/-/referrers`);
      const nodes = await page.locator('[data-testid=graph] a[data-node]').evaluateAll((as) => as.map((a) => a.dataset.node));
      assert.equal(nodes.length, 5, `${registry}: the image, SBOM, signature, attestation, and the SBOM's signature`);
      assert.ok(nodes.includes(s['hello:1.1.0/sbom/signature']));
      assert.equal(await page.locator('[data-testid=graph] path').count(), 4);
      assert.match(await page.getByTestId('graph-summary').innerText(), registry === 'ferro' ? /referrers API/ : /fallback tag/);
    }
    await page.getByRole('link', { name: /application\/spdx\+json \(1\)/ }).click();
    await page.waitForURL(/\?type=application%2Fspdx%2Bjson$/);
    const filtered = await page.locator('[data-testid=graph] a[data-node]').evaluateAll((as) => as.map((a) => a.dataset.kind));
    assert.deepEqual(filtered, ['image', 'sbom']);

    const s = seed.anonymous;
    const r = await fetch(`${stack.baseUrl}/api/v1/referrers/anonymous/library/hello@${s['hello:1.1.0']}`);
    assert.equal(r.status, 200);
    const json = await r.json();
    assert.equal(json.subject, s['hello:1.1.0']);
    assert.equal(json.referrers.length, 4);
    const nested = json.referrers.find((x) => x.digest === s['hello:1.1.0/sbom/signature']);
    assert.equal(nested.subject, s['hello:1.1.0/sbom']);
    assert.equal(nested.depth, 2);
    const only = await (await fetch(`${stack.baseUrl}/api/v1/referrers/anonymous/library/hello:1.1.0?artifactType=application/spdx%2Bjson`)).json();
    assert.deepEqual(only.referrers.map((x) => x.kind), ['sbom']);
    const bad = await fetch(`${stack.baseUrl}/api/v1/referrers/anonymous/library/hello@sha256:nope`);
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /digest/);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('diff of two tags, and badges', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello:1.0.0`);
    await hydrated(page);
    await page.getByLabel('Compare with').fill('1.1.0');
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.waitForURL(/\/-\/diff\?from=1\.0\.0&to=1\.1\.0$/);
    const changes = await page.locator('[data-testid=diff-layers] [data-change]').evaluateAll((els) => els.map((e) => e.dataset.change));
    assert.deepEqual(changes, ['added', 'removed']);
    assert.match(await page.getByTestId('diff-config').innerText(), /label org\.opencontainers\.image\.version\s+1\.0\.0\s+1\.1\.0/);

    const latest = await fetch(`${stack.baseUrl}/badge/anonymous/library/hello/latest.svg`);
    assert.equal(latest.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
    assert.match(await latest.text(), /version: 1\.1\.0/);
    assert.match(await (await fetch(`${stack.baseUrl}/badge/anonymous/library/hello:1.1.0/signed.svg`)).text(), /signature: signed/);
    assert.match(await (await fetch(`${stack.baseUrl}/badge/anonymous/library/hello:2.0.0-rc.1/signed.svg`)).text(), /signature: unsigned/);
    assert.match(await (await fetch(`${stack.baseUrl}/badge/anonymous/library/hello:1.1.0/size.svg`)).text(), /size: \d/);
    assert.match(await (await fetch(`${stack.baseUrl}/badge/anonymous/library/hello/tags.svg`)).text(), /tags: 5/);
    assert.match(await (await fetch(`${stack.baseUrl}/badge/anonymous/no/such/latest.svg`)).text(), /version: not found/);

    await page.goto(`${stack.baseUrl}/r/anonymous/library/hello`);
    await page.getByText('Badges for your README').click();
    const markdown = await page.locator('[data-testid=badges] code').first().innerText();
    assert.equal(markdown, `[![latest version](${stack.baseUrl}/badge/anonymous/library/hello/latest.svg)](${stack.baseUrl}/r/anonymous/library/hello)`);
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('a phone-sized screen: no horizontal scrolling of the page itself', async () => {
  const { page, context, errors } = await newPage(stack.browser, { viewport: { width: 390, height: 844 } });
  try {
    for (const path of ['/r/anonymous/library/hello', '/r/anonymous/library/hello:1.1.0', '/r/anonymous/team/platform/api:v1.0.0']) {
      await page.goto(`${stack.baseUrl}${path}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `${path} scrolls sideways by ${overflow}px`);
    }
    assert.deepEqual(errors(), [], 'no console errors');
  } finally {
    await context.close();
  }
});

test('no configured secret in any response or in the server log', async () => {
  await noSecretsTest(stack, assert);
});
