// Takes the README's screenshots: node end2end/screenshots.mjs [browsing|admin|storage] (after
// scripts/test has built the app). Writes docs/screenshots/*.png.
//
// Two stacks, one after the other: the browsing half on open, seeded registries; then the admin
// half with sign-in (the test kit's OpenID provider; alice is admin everywhere), where a delete
// is previewed and confirmed, the trash and the audit log are read, a retention policy is
// written in the editor and dry-run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, newPage, hydrated, signIn, ROOT } from './harness.mjs';

const out = join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });

/** Waits for the page to settle, then writes docs/screenshots/<file>. */
async function shoot(page, file, { fullPage = false } = {}) {
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: join(out, file), fullPage });
  console.log(`wrote docs/screenshots/${file}`);
}

async function browsing() {
  const stack = await startStack({ kinds: ['anonymous', 'token', 'ferro'], manyTags: 1500 });
  try {
    const shots = [
      ['tags.png', '/r/anonymous/library/hello', {}],
      ['many-tags.png', '/r/anonymous/stress/many-tags?sort=created', {}],
      ['artifact.png', '/r/anonymous/library/hello:1.1.0', { fullPage: true }],
      ['index.png', '/r/ferro/team/platform/api:v1.0.0', {}],
      ['graph.png', '/r/ferro/library/hello:1.1.0/-/referrers', {}],
      ['sbom.png', `/r/ferro/library/hello@${'SBOM'}`, {}],
      ['diff.png', '/r/anonymous/library/hello/-/diff?from=1.0.0&to=1.1.0', {}],
      ['tags-dark.png', '/r/token/team/platform/api', { colorScheme: 'dark' }],
      ['phone.png', '/r/anonymous/library/hello:1.1.0', { viewport: { width: 390, height: 844 } }],
      ['error.png', '/r/down', {}],
    ];
    const sbom = stack.registries.find((r) => r.name === 'ferro').seed.digests['hello:1.1.0/sbom'];
    for (const [file, path, { fullPage = false, ...options }] of shots) {
      const { page, context } = await newPage(stack.browser, { viewport: { width: 1280, height: 800 }, ...options });
      await page.goto(`${stack.baseUrl}${path.replace('SBOM', sbom)}`);
      await shoot(page, file, { fullPage });
      await context.close();
    }
  } finally {
    await stack.stop();
  }
}

async function admin() {
  const stack = await startStack({ kinds: ['anonymous', 'token', 'ferro'], manyTags: 120, oidc: true });
  try {
    const base = stack.baseUrl;
    const seed = (name) => stack.registries.find((r) => r.name === name).seed.digests;

    // The sign-in page, as a visitor sees it.
    {
      const { page, context } = await newPage(stack.browser, { viewport: { width: 1280, height: 800 } });
      await page.goto(`${base}/sign-in`);
      await shoot(page, 'sign-in.png');
      await context.close();
    }

    const alice = await signIn(stack, 'alice', { next: '/' });
    const { page } = alice;
    await page.setViewportSize({ width: 1280, height: 800 });
    try {
      // Deleting an artifact with its referrers: the preview, then confirmed.
      const digest = seed('ferro')['hello:1.1.0'];
      await page.goto(`${base}/r/ferro/library/hello/-/delete?digest=${encodeURIComponent(digest)}`);
      await page.getByTestId('delete-units').waitFor();
      await shoot(page, 'delete-preview.png', { fullPage: true });
      await page.getByTestId('confirm-delete').click();
      await page.waitForURL(/\/-\/deleted\?request=/);

      // A tag alone (it shares its digest with latest), on the token-auth registry.
      await page.goto(`${base}/r/token/library/hello/-/delete?tag=1.1.0`);
      await page.getByTestId('confirm-delete').click();
      await page.waitForURL(/\/-\/deleted\?request=/);

      await page.goto(`${base}/admin/trash`);
      await page.getByTestId('trash').waitFor();
      await shoot(page, 'trash.png');

      await page.goto(`${base}/admin/audit`);
      await page.getByTestId('audit').waitFor();
      await shoot(page, 'audit.png');

      // A policy written in the editor (a plain form), saved, and its live what-if.
      await page.goto(`${base}/admin/policies/new`);
      await hydrated(page);
      const form = page.getByTestId('policy-form');
      await form.locator('[data-field=name]').fill('CI builds: keep the 20 newest');
      await form.locator('select[data-field=registry]').selectOption('anonymous');
      await form.locator('[data-field=repositories]').fill('stress/*');
      await form.locator('[data-field=most_recent_count]').fill('20');
      await form.locator('select[data-field=most_recent_by]').selectOption('created');
      await form.locator('[data-field=newer_than_days]').fill('');
      await form.locator('[data-field=protected]').fill('latest\nrelease-*');
      await form.locator('[data-field=schedule]').fill('0 3 * * *');
      await page.getByTestId('save-policy').click();
      await page.waitForURL(/\/admin\/policies\/\d+$/);
      await hydrated(page);
      await page.getByTestId('what-if-summary').waitFor({ timeout: 60_000 });
      await page.locator('[data-testid=what-if][data-busy=false]').waitFor();
      await shoot(page, 'policy-editor.png');

      // A dry run of it, followed to its end.
      await page.getByTestId('dry-run').click();
      await page.waitForURL(/\/admin\/runs\/\d+$/);
      const runUrl = page.url();
      const deadline = Date.now() + 120_000;
      while ((await page.getByTestId('run-progress').getAttribute('data-state')) === 'running') {
        if (Date.now() > deadline) throw new Error('the dry run did not finish within two minutes');
        await new Promise((r) => setTimeout(r, 1000));
        await page.goto(runUrl);
      }
      await shoot(page, 'run.png');
    } finally {
      await alice.context.close();
    }
  } finally {
    await stack.stop();
  }
}

/** The storage pages, once the crawl has read the registries whole. */
async function storage() {
  const stack = await startStack({ kinds: ['anonymous', 'ferro'], manyTags: 120, crawl: true });
  try {
    const deadline = Date.now() + 180_000;
    for (const name of ['anonymous', 'ferro']) {
      for (;;) {
        const r = await fetch(`${stack.baseUrl}/api/v1/storage/${name}`, { signal: AbortSignal.timeout(10_000) });
        if (r.ok && (await r.json()).freshness?.complete) break;
        if (Date.now() > deadline) throw new Error(`the crawl of ${name} did not finish a pass`);
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
    const shots = [
      ['storage.png', '/r/anonymous/-/storage', {}],
      ['storage-dark.png', '/r/ferro/-/storage', { colorScheme: 'dark' }],
      ['storage-repository.png', '/r/ferro/library/hello/-/storage', { fullPage: true }],
    ];
    for (const [file, path, { fullPage = false, ...options }] of shots) {
      const { page, context } = await newPage(stack.browser, { viewport: { width: 1280, height: 900 }, ...options });
      await page.goto(`${stack.baseUrl}${path}`);
      await shoot(page, file, { fullPage });
      await context.close();
    }
  } finally {
    await stack.stop();
  }
}

const only = process.argv[2];
if (!only || only === 'browsing') await browsing();
if (!only || only === 'admin') await admin();
if (!only || only === 'storage') await storage();
