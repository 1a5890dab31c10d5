// Takes the README's screenshots: node end2end/screenshots.mjs (after scripts/test has built
// the app). Writes docs/screenshots/*.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, newPage, hydrated, ROOT } from './harness.mjs';

const out = join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
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
    await hydrated(page);
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(out, file), fullPage });
    await context.close();
    console.log(`wrote docs/screenshots/${file}`);
  }
} finally {
  await stack.stop();
}
