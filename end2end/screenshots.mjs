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
    ['artifact.png', '/r/anonymous/library/hello:1.1.0', {}],
    ['tags-dark.png', '/r/token/team/platform/api', { colorScheme: 'dark' }],
    ['error.png', '/r/down', {}],
  ];
  for (const [file, path, options] of shots) {
    const { page, context } = await newPage(stack.browser, { viewport: { width: 1280, height: 800 }, ...options });
    await page.goto(`${stack.baseUrl}${path}`);
    await hydrated(page);
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(out, file), fullPage: false });
    await context.close();
    console.log(`wrote docs/screenshots/${file}`);
  }
} finally {
  await stack.stop();
}
