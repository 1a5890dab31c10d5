// Signing in and changing things, end to end: people sign in through a real OpenID provider's
// login form (alice: admin; bob: maintainer on the token and ferro registries; carol: viewer),
// delete tags and artifacts on CNCF distribution (token auth) and ferro-oci-server (the referrers
// API), restore them from the trash byte for byte, read the audit log and its CSV, and sign out.
// What the registries hold is checked through their own HTTP API, not only through Portolan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startStack, newPage, hydrated, noSecretsTest, signIn, registryApi, SecretWatch } from '../harness.mjs';

let stack;
let seed;
/** Signed-in browser sessions by login, made once (see `session`). */
const sessions = new Map();

before(async () => {
  stack = await startStack({ kinds: ['anonymous', 'ferro', 'token'], manyTags: 0, oidc: true, bearer: true });
  seed = Object.fromEntries(stack.registries.filter((r) => r.seed).map((r) => [r.name, r.seed.digests]));
}, { timeout: 180_000 });
after(async () => {
  for (const s of sessions.values()) await s.context.close().catch(() => {});
  await stack?.stop();
});

/** `login`'s browser, signed in (once per file). Refusals (401/403) are expected statuses. */
async function session(login) {
  if (!sessions.has(login)) sessions.set(login, await signIn(stack, login, { expectedStatuses: [401, 403] }));
  return sessions.get(login);
}

const REGISTRIES = ['token', 'ferro'];
const REPO = 'library/hello';
/** The referrers of hello:1.1.0 in the seed: SBOM, signature, attestation, and the SBOM's signature. */
const REFERRERS = ['hello:1.1.0/sbom', 'hello:1.1.0/signature', 'hello:1.1.0/attestation', 'hello:1.1.0/sbom/signature'];
/** What the registries held before anything was deleted: registry → reference → bytes. */
const before_ = new Map();

const rowTags = (page) => page.locator('[data-testid=tags] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));

test('the secret watch finds a secret where there is one, also encoded, and refuses to watch for nothing', () => {
  assert.ok(stack.secrets.some((s) => s.value === 'portolan-oidc-secret'), 'the client secret is among the watched secrets');
  assert.ok(stack.secrets.filter((s) => s.user).length >= 2, 'registry passwords and the client secret come with their user');
  const found = (text) => {
    const watch = new SecretWatch();
    watch.setSecrets(stack.secrets);
    watch.scan('a sample', text);
    return watch.hits;
  };
  for (const { what, value, user } of stack.secrets) {
    if (value.includes('-----BEGIN')) {
      assert.equal(found(`before ${value.split('\n')[2]} after`).length, 1, what);
      continue;
    }
    assert.ok(found(`before ${value} after`).length >= 1, what);
    assert.ok(found(`?q=${encodeURIComponent(value)}&x`).length >= 1, `${what}, URL-encoded`);
    assert.ok(found(`"${Buffer.from(value).toString('base64')}"`).length >= 1, `${what}, in base64`);
    if (user) {
      const basic = `Authorization: Basic ${Buffer.from(`${user}:${value}`).toString('base64')}`;
      assert.ok(found(basic).some((h) => h.includes('Basic header')), `${what}, in a Basic header`);
    }
  }
  assert.deepEqual(found('nothing to see here, not even portolan'), []);
  assert.throws(() => new SecretWatch().setSecrets([]), /no secrets/);
  assert.throws(() => new SecretWatch().setSecrets([{ what: 'nothing', value: '' }]), /nothing to search for/);
});

test("signs in through the provider's form: the header shows the name and the role", async () => {
  const alice = await session('alice');
  await alice.page.goto(`${stack.baseUrl}/`);
  const user = alice.page.getByTestId('user');
  assert.match(await user.innerText(), /Alice Admin/);
  assert.equal(await user.getAttribute('data-role'), 'admin');
  assert.equal(await alice.page.getByRole('link', { name: 'Audit' }).count(), 1);

  // Bob's role depends on where the page is: maintainer on token and ferro, viewer elsewhere.
  const bob = await session('bob');
  for (const [registry, role] of [['token', 'maintainer'], ['ferro', 'maintainer'], ['anonymous', 'viewer']]) {
    await bob.page.goto(`${stack.baseUrl}/r/${registry}/${REPO}`);
    assert.match(await bob.page.getByTestId('user').innerText(), /Bob Builder/);
    assert.equal(await bob.page.getByTestId('user').getAttribute('data-role'), role, registry);
  }

  // The sign-in page's ?next= is where one lands afterwards.
  const carol = await signIn(stack, 'carol', { next: `/r/token/${REPO}` });
  try {
    assert.equal(await carol.page.getByTestId('user').getAttribute('data-role'), 'viewer');
    await hydrated(carol.page);
    assert.deepEqual(carol.errors(), []);
  } finally {
    await carol.context.close();
  }
  assert.deepEqual(alice.errors(), []);
  assert.deepEqual(bob.errors(), []);
});

test('a viewer sees no delete controls and cannot open a deletion', async () => {
  const carol = await session('carol');
  const { page } = carol;
  await page.goto(`${stack.baseUrl}/r/token/${REPO}`);
  await hydrated(page);
  assert.ok((await rowTags(page)).includes('1.1.0'));
  assert.equal(await page.getByTestId('delete-selected').count(), 0);
  assert.equal(await page.locator('[data-testid=tags] input[type=checkbox]').count(), 0);
  await page.goto(`${stack.baseUrl}/r/token/${REPO}:1.1.0`);
  await hydrated(page);
  assert.match(await page.getByTestId('summary').innerText(), /image/);
  assert.equal(await page.getByTestId('delete-link').count(), 0);
  const refused = await page.goto(`${stack.baseUrl}/r/token/${REPO}/-/delete?tag=1.1.0`);
  assert.equal(refused.status(), 403);
  assert.match(await page.getByRole('alert').innerText(), /needs the maintainer role/);
  assert.deepEqual(carol.errors(), []);
});

test('a maintainer deletes one of two tags sharing a digest; the other stays', async () => {
  const bob = await session('bob');
  const { page } = bob;
  for (const registry of REGISTRIES) {
    const api = registryApi(stack, registry);
    const digest = seed[registry]['hello:1.1.0'];
    const saved = new Map();
    for (const reference of ['1.1.0', 'latest', digest, ...REFERRERS.map((r) => seed[registry][r])]) {
      const m = await api.manifest(REPO, reference);
      assert.equal(m.status, 200, `${registry} ${reference}`);
      saved.set(reference, m.bytes);
    }
    assert.equal((await api.manifest(REPO, 'latest')).digest, digest, 'latest and 1.1.0 share a digest');
    before_.set(registry, saved);

    await page.goto(`${stack.baseUrl}/r/${registry}/${REPO}`);
    await hydrated(page);
    await page.getByLabel('select 1.1.0').check();
    await page.getByTestId('delete-selected').click();
    await page.waitForURL(new RegExp(`/r/${registry}/library/hello/-/delete\\?tag=1\\.1\\.0$`));
    const units = page.locator('[data-testid=delete-units] > li');
    assert.equal(await units.count(), 1);
    assert.equal(await units.first().getAttribute('data-unit'), 'untag', 'only the tag goes');
    assert.equal(await units.first().getAttribute('data-digest'), digest);
    assert.deepEqual(await units.locator('[data-tag]').evaluateAll((els) => els.map((e) => e.dataset.tag)), ['1.1.0']);
    assert.match(await page.getByTestId('delete-kept').locator('li[data-tag=latest]').innerText(), /latest — shares .* and stays/);

    await page.getByTestId('confirm-delete').click();
    await page.waitForURL(new RegExp(`/r/${registry}/library/hello/-/deleted\\?request=`));
    const outcome = await page.locator('[data-testid=outcome] tbody tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.action}:${r.dataset.outcome}`));
    assert.deepEqual(outcome, ['delete-tag:done'], registry);

    // The registry itself: 1.1.0 is gone, latest still has the same manifest, byte for byte.
    assert.equal((await api.manifest(REPO, '1.1.0')).status, 404, `${registry}: 1.1.0 is gone`);
    const latest = await api.manifest(REPO, 'latest');
    assert.equal(latest.digest, digest, `${registry}: latest still resolves to the same digest`);
    assert.ok(latest.bytes.equals(saved.get('latest')));
    // And Portolan shows it at once (its cache of the tag list was dropped).
    await page.goto(`${stack.baseUrl}/r/${registry}/${REPO}`);
    const tags = await rowTags(page);
    assert.ok(!tags.includes('1.1.0') && tags.includes('latest'), `${registry}: ${tags}`);
  }
  assert.deepEqual(bob.errors(), []);
});

test('a maintainer deletes an artifact with its referrers; the preview lists them and they are gone', async () => {
  const bob = await session('bob');
  const { page } = bob;
  for (const registry of REGISTRIES) {
    const api = registryApi(stack, registry);
    const digest = seed[registry]['hello:1.1.0'];
    const referrers = REFERRERS.map((r) => seed[registry][r]);
    await page.goto(`${stack.baseUrl}/r/${registry}/${REPO}@${digest}`);
    await hydrated(page);
    await page.getByTestId('delete-link').filter({ hasText: 'Delete this artifact' }).click();
    await page.waitForURL(new RegExp(`/-/delete\\?digest=sha256%3A${digest.slice(7)}$`));
    const unit = page.locator(`[data-testid=delete-units] > li[data-digest="${digest}"]`);
    assert.equal(await unit.getAttribute('data-unit'), 'delete');
    const listed = await unit.locator('li[data-digest]').evaluateAll((els) => els.map((e) => e.dataset.digest));
    for (const r of referrers) assert.ok(listed.includes(r), `${registry}: the preview lists the referrer ${r}: ${listed}`);
    // Its tag, and on distribution the fallback tags listing its referrers and the SBOM's.
    const fallback = registry === 'ferro' ? [] : [digest, seed[registry]['hello:1.1.0/sbom']].map((d) => d.replace(':', '-'));
    const tags = await unit.locator('span[data-tag]').evaluateAll((els) => els.map((e) => e.dataset.tag));
    assert.deepEqual(tags.sort(), ['latest', ...fallback].sort());
    assert.match(await page.getByTestId('delete-summary').innerText(), new RegExp(`^${tags.length} tags? and ${1 + listed.length} manifests would be removed`));

    await page.getByTestId('confirm-delete').click();
    await page.waitForURL(/\/-\/deleted\?request=/);
    const outcome = await page.locator('[data-testid=outcome] tbody tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.action}:${r.dataset.outcome}`));
    assert.ok(outcome.length >= 5 && outcome.every((o) => o === 'delete-manifest:done'), `${registry}: ${outcome.join(' ')}`);

    assert.equal((await api.manifest(REPO, digest)).status, 404, `${registry}: the artifact is gone`);
    assert.equal((await api.manifest(REPO, 'latest')).status, 404, `${registry}: its tag is gone`);
    for (const r of referrers) assert.equal((await api.manifest(REPO, r)).status, 404, `${registry}: the referrer ${r} is gone`);
    if (registry === 'ferro') {
      const answer = await api.referrers(REPO, digest);
      assert.deepEqual(answer.digests, [], 'the referrers API lists nothing');
    } else {
      // The fallback tags the preview listed are gone, not left on an emptied index.
      for (const subject of [digest, seed[registry]['hello:1.1.0/sbom']]) {
        const fallback = await api.manifest(REPO, subject.replace(':', '-'));
        assert.equal(fallback.status, 404, `the fallback tag of ${subject} is gone (${fallback.bytes})`);
      }
    }
  }
  assert.deepEqual(bob.errors(), []);
});

test('restores both from the trash: the tags come back with the same digests, byte for byte', async () => {
  const bob = await session('bob');
  const { page } = bob;
  await page.goto(`${stack.baseUrl}/admin/trash`);
  const entries = page.locator('[data-testid=trash] > li');
  assert.equal(await entries.count(), 4, 'two deletions on each of two registries');
  assert.deepEqual(await entries.evaluateAll((els) => els.map((e) => e.dataset.state)), ['deleted', 'deleted', 'deleted', 'deleted']);
  // Newest first: each artifact, then each tag.
  for (let i = 0; i < 4; i++) {
    await page.getByTestId('restore').first().click();
    await page.waitForURL(/\/admin\/trash\?request=/);
    const outcome = await page.locator('[data-testid=outcome] tbody tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.action}:${r.dataset.outcome}`));
    assert.ok(outcome.length > 0 && outcome.every((o) => o.endsWith(':done')), await page.getByTestId('outcome').innerText());
    assert.ok(outcome.some((o) => o.startsWith('restore-tag')), outcome.join(' '));
  }
  assert.equal(await page.getByTestId('restore').count(), 0, 'nothing left to restore');
  assert.deepEqual(await entries.evaluateAll((els) => els.map((e) => e.dataset.state)), ['restored', 'restored', 'restored', 'restored']);

  for (const registry of REGISTRIES) {
    const api = registryApi(stack, registry);
    const digest = seed[registry]['hello:1.1.0'];
    const saved = before_.get(registry);
    for (const [reference, bytes] of saved) {
      const m = await api.manifest(REPO, reference);
      assert.equal(m.status, 200, `${registry}: ${reference} is back`);
      assert.ok(m.bytes.equals(bytes), `${registry}: ${reference} is byte for byte what it was`);
    }
    assert.equal((await api.manifest(REPO, '1.1.0')).digest, digest);
    assert.equal((await api.manifest(REPO, 'latest')).digest, digest);
    if (registry === 'ferro') {
      const answer = await api.referrers(REPO, digest);
      assert.deepEqual(answer.digests.sort(), REFERRERS.slice(0, 3).map((r) => seed.ferro[r]).sort(), 'the referrers API lists them again');
    }
    await page.goto(`${stack.baseUrl}/r/${registry}/${REPO}`);
    await hydrated(page);
    const row = page.locator('tr[data-tag="1.1.0"]');
    await row.locator('[data-digest]').waitFor();
    assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), digest);
    assert.equal(await row.locator('[data-siblings]').getAttribute('data-siblings'), 'latest');
    assert.equal((await row.locator('td').last().innerText()).trim(), '3', `${registry}: its referrers are back`);
  }
  assert.deepEqual(bob.errors(), []);
});

test('the audit log lists every step, and downloads as CSV', async () => {
  const alice = await session('alice');
  const { page } = alice;
  await page.goto(`${stack.baseUrl}/admin/audit`);
  const rows = page.locator('[data-testid=audit] tbody tr');
  const actions = await rows.evaluateAll((els) => els.map((e) => `${e.dataset.action}:${e.dataset.outcome}`));
  for (const step of ['sign-in:done', 'delete-tag:done', 'delete-manifest:done', 'restore-manifest:done', 'restore-tag:done', 'delete-preview:refused']) {
    assert.ok(actions.includes(step), `${step} in ${[...new Set(actions)].join(' ')}`);
  }
  const deleted = await rows.filter({ has: page.locator('td', { hasText: 'delete-tag' }) }).allInnerTexts();
  assert.ok(deleted.length >= 2 && deleted.every((t) => /Bob Builder/.test(t) && /1\.1\.0/.test(t)), deleted.join('\n'));
  for (const registry of REGISTRIES) assert.ok(deleted.some((t) => t.includes(`${registry}/library/hello`)), registry);
  const signIns = await rows.filter({ has: page.locator('td', { hasText: /^sign-in$/ }) }).allInnerTexts();
  for (const name of ['Alice Admin', 'Bob Builder', 'Carol Unverified']) assert.ok(signIns.some((t) => t.includes(name)), name);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-csv').click()]);
  assert.equal(download.suggestedFilename(), 'portolan-audit.csv');
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.trim().split('\n');
  assert.match(lines[0], /action/);
  assert.equal(lines.length - 1, actions.length, 'a line per entry');
  for (const step of ['sign-in', 'delete-tag', 'delete-manifest', 'restore-manifest', 'restore-tag']) assert.ok(csv.includes(step), step);
  assert.ok(csv.includes('Bob Builder'));

  // Bob is a maintainer, not an admin: the audit log is not his to read.
  const bob = await session('bob');
  const refused = await bob.page.goto(`${stack.baseUrl}/admin/audit`);
  assert.equal(refused.status(), 403);
  assert.deepEqual(alice.errors(), []);
  assert.deepEqual(bob.errors(), []);
});

test("signing out ends the session, here and at the provider", async () => {
  const bob = await session('bob');
  const { page } = bob;
  await page.goto(`${stack.baseUrl}/admin/trash`);
  assert.equal(await page.getByTestId('trash').count(), 1);
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Portolan → the provider's end-session page (which submits itself) → back to Portolan.
  await page.waitForURL(`${stack.baseUrl}/`);
  assert.equal(await page.getByTestId('user').count(), 0);
  assert.equal(await page.getByTestId('session').getByRole('link', { name: 'Sign in' }).count(), 1);
  const refused = await page.goto(`${stack.baseUrl}/admin/trash`);
  assert.equal(refused.status(), 401);
  assert.match(await page.getByRole('alert').innerText(), /Sign in/);
  assert.equal(await page.getByTestId('sign-in-link').getAttribute('href'), '/sign-in?next=%2Fadmin%2Ftrash');
  // The provider forgot him too: signing in again asks for the password.
  const provider = await (await fetch(`${stack.oidc.issuer}/__test/sessions`)).json();
  const bobSub = '9d0b2e47-1c6f-4a8e-b3d5-b0b000000002';
  assert.ok(!provider.sessions.some((s) => s.account_id === bobSub), JSON.stringify(provider.sessions));
  await page.goto(`${stack.baseUrl}/sign-in`);
  await page.getByTestId('providers').getByRole('link').click();
  await page.locator('#password').waitFor();
  assert.deepEqual(bob.errors(), []);
  await bob.context.close();
  sessions.delete('bob');
});

test('a private registry is refused to anonymous visitors, with a way to sign in', async () => {
  const { page, context, errors } = await newPage(stack.browser, {}, { expectedStatuses: [401] });
  try {
    await page.goto(`${stack.baseUrl}/`);
    const listed = await page.locator('[data-testid=registries] a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.ok(listed.includes('/r/token') && !listed.includes('/r/private'), listed.join(' '));
    for (const path of ['/r/private', `/r/private/${REPO}`, `/r/private/${REPO}:1.1.0`]) {
      const response = await page.goto(`${stack.baseUrl}${path}`);
      assert.equal(response.status(), 401, path);
      assert.equal(await page.getByRole('alert').getAttribute('data-error-status'), '401');
      assert.equal(await page.getByTestId('sign-in-link').getAttribute('href'), `/sign-in?next=${encodeURIComponent(path)}`);
    }
    const badge = await fetch(`${stack.baseUrl}/badge/private/${REPO}/latest.svg`);
    assert.equal(badge.status, 401);
    assert.equal(badge.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
    assert.equal(badge.headers.get('cache-control'), 'no-store');
    const json = await fetch(`${stack.baseUrl}/api/v1/referrers/private/${REPO}:1.1.0`);
    assert.equal(json.status, 401);
    assert.match((await json.json()).error, /Sign in/);
    // The same registry under its public name answers, and signed in, the private one does.
    assert.equal((await fetch(`${stack.baseUrl}/api/v1/referrers/anonymous/${REPO}:1.1.0`)).status, 200);
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
  const carol = await session('carol');
  const response = await carol.page.goto(`${stack.baseUrl}/r/private/${REPO}`);
  assert.equal(response.status(), 200);
  assert.ok((await rowTags(carol.page)).includes('1.1.0'));
  assert.deepEqual(carol.errors(), []);
});

test('a static bearer token (a password without a username) reads a token-auth registry', async () => {
  const { page, context, errors } = await newPage(stack.browser);
  try {
    await page.goto(`${stack.baseUrl}/r/token-bearer`);
    const repos = await page.locator('[data-testid=repositories] a[href^="/r/token-bearer/"]').allInnerTexts();
    assert.deepEqual(repos.map((r) => r.trim()), ['acme/app', 'charts/portolan-demo', 'library/hello', 'team/platform/api']);
    await page.goto(`${stack.baseUrl}/r/token-bearer/${REPO}:1.1.0`);
    await hydrated(page);
    assert.match(await page.getByTestId('summary').innerText(), /image/);
    assert.equal(await page.getByTestId('permalink').getAttribute('href'), `/r/token-bearer/${REPO}@${seed.token['hello:1.1.0']}`);
    assert.deepEqual(errors(), []);
  } finally {
    await context.close();
  }
});

/** Waits until the run page at the current URL says the run ended; returns its state. */
async function runEnded(page) {
  const url = page.url();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const state = await page.getByTestId('run-progress').getAttribute('data-state');
    if (state !== 'running') return state;
    if (Date.now() > deadline) throw new Error(`the run at ${url} did not end within two minutes`);
    await new Promise((r) => setTimeout(r, 500));
    await page.goto(url);
  }
}

const runItems = (page) =>
  page.locator('[data-testid=run-items] tbody tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.action}:${r.dataset.outcome}:${r.innerText.includes('0.1.0') ? '0.1.0' : r.innerText.includes('0.2.0') ? '0.2.0' : ''}`));

test('a retention policy: the what-if follows each edit, a dry run, a run, its history, and a restore from the trash', async () => {
  const alice = await session('alice');
  const { page } = alice;
  const api = registryApi(stack, 'ferro');
  const charts = 'charts/portolan-demo';
  const digest010 = seed.ferro['chart:0.1.0'];
  assert.equal((await api.manifest(charts, '0.1.0')).digest, digest010);

  // A new policy: keep the two highest versions of every chart. The what-if, computed as one
  // types, deletes nothing; keeping one deletes 0.1.0 — before anything is saved.
  await page.goto(`${stack.baseUrl}/admin/policies/new`);
  await hydrated(page);
  const form = page.getByTestId('policy-form');
  await form.locator('[data-field=name]').fill('charts: keep the newest');
  await form.locator('select[data-field=registry]').selectOption('ferro');
  await form.locator('[data-field=repositories]').fill('charts/*');
  await form.locator('[data-field=most_recent_count]').fill('2');
  await form.locator('select[data-field=most_recent_by]').selectOption('version');
  const summary = page.getByTestId('what-if-summary');
  await page.locator('[data-testid=what-if-summary][data-deleted="0"][data-kept="2"]').waitFor({ timeout: 60_000 });
  await form.locator('[data-field=most_recent_count]').fill('1');
  await page.locator('[data-testid=what-if-summary][data-deleted="1"]').waitFor({ timeout: 30_000 });
  assert.match(await summary.innerText(), /1 tags kept, 1 deleted/);
  const decisions = await page.locator('[data-testid=what-if-tags] tbody tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.tag}=${r.dataset.decision}`));
  assert.deepEqual(decisions.sort(), [`${charts}:0.1.0=delete`, `${charts}:0.2.0=keep`]);
  // A mistake is reported with where it is, and nothing is computed from it.
  await form.locator('[data-field=schedule]').fill('every tuesday');
  await page.getByTestId('policy-errors').waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId('policy-errors').innerText(), /schedule/);
  await form.locator('[data-field=schedule]').fill('');
  await page.locator('[data-testid=what-if-summary][data-deleted="1"]').waitFor({ timeout: 30_000 });

  // Saved: new policies start as dry runs. Against the saved version the editor shows the
  // difference an edit would make.
  assert.equal(await form.locator('select[data-field=dry_run]').inputValue(), 'true');
  await page.getByTestId('save-policy').click();
  await page.waitForURL(/\/admin\/policies\/\d+$/);
  const policyUrl = page.url();
  await hydrated(page);
  await page.locator('[data-testid=what-if-summary][data-deleted="1"]').waitFor({ timeout: 60_000 });
  await page.getByTestId('policy-form').locator('[data-field=most_recent_count]').fill('2');
  await page.getByTestId('what-if-diff').waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId('what-if-diff').innerText(), new RegExp(`No longer deleted: ${charts}:0\\.1\\.0`));

  // A dry run plans 0.1.0's deletion and deletes nothing.
  await page.goto(policyUrl);
  await page.getByTestId('dry-run').first().click();
  await page.waitForURL(/\/admin\/runs\/\d+$/);
  assert.equal(await runEnded(page), 'done');
  assert.ok((await runItems(page)).includes('plan-delete:planned:0.1.0'), (await runItems(page)).join(' '));
  assert.equal((await api.manifest(charts, '0.1.0')).status, 200, 'a dry run deletes nothing');

  // Switched to deleting, and run now: 0.1.0 goes, 0.2.0 stays.
  await page.goto(policyUrl);
  await hydrated(page);
  await page.getByTestId('policy-form').locator('select[data-field=dry_run]').selectOption('false');
  await page.getByTestId('save-policy').click();
  await page.waitForURL(/\/admin\/policies\/\d+$/);
  await page.getByTestId('run-now').first().click();
  await page.waitForURL(/\/admin\/runs\/\d+$/);
  assert.equal(await runEnded(page), 'done');
  const items = await runItems(page);
  assert.ok(items.some((i) => i.endsWith(':done:0.1.0')), items.join(' '));
  assert.ok(!items.some((i) => i.endsWith(':0.2.0') && !i.includes('keep')), items.join(' '));
  assert.equal((await api.manifest(charts, '0.1.0')).status, 404, 'the run deleted 0.1.0');
  assert.equal((await api.manifest(charts, '0.2.0')).status, 200, 'and kept 0.2.0');

  // The history: both runs, newest first, and the plot.
  await page.goto(policyUrl);
  const runs = await page.locator('[data-testid=runs] tbody tr').count();
  assert.equal(runs, 2);
  assert.equal(await page.getByTestId('history-chart').count(), 1);

  // The trash holds what the run deleted; restoring brings 0.1.0 back, byte for byte the same.
  await page.goto(`${stack.baseUrl}/admin/trash`);
  const entry = page.locator('[data-testid=trash] > li[data-state=deleted]');
  assert.equal(await entry.count(), 1);
  assert.match(await entry.innerText(), /0\.1\.0/);
  await entry.getByTestId('restore').click();
  await page.waitForURL(/\/admin\/trash\?request=/);
  const restored = await api.manifest(charts, '0.1.0');
  assert.equal(restored.status, 200);
  assert.equal(restored.digest, digest010);
  assert.deepEqual(alice.errors(), []);
});

test('no configured secret in any response or in the server log', async () => {
  await noSecretsTest(stack, assert);
});
