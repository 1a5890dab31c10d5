// Starts what the end-to-end tests run against — seeded registries (portolan-testkit), the
// Portolan server, headless Chromium — on free loopback ports, and stops all of it afterwards,
// also when a test fails.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const BIN = process.env.PORTOLAN_E2E_PROFILE === 'release' ? join(TARGET, 'release') : join(TARGET, 'debug');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

function waitForLine(child, line, name, timeoutMs) {
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${name} did not say "${line}" within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d) => {
      out += d.toString();
      if (out.includes(line)) {
        clearTimeout(timer);
        res(out);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d.toString(); });
    child.on('exit', (code) => { clearTimeout(timer); rej(new Error(`${name} exited with ${code}:\n${out}`)); });
  });
}

async function waitForHttp(url, timeoutMs, child, name) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`${name} exited with ${exited}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Starts registries, Portolan and Chromium. Call `stop()` in an `after` hook. */
export async function startStack({ kinds = ['anonymous', 'ferro', 'token'], manyTags = 260, slowMs = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'portolan-e2e-'));
  const children = [];
  let browser;
  const stop = async () => {
    if (browser) await browser.close().catch(() => {});
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        c.stdin?.end();
        c.kill('SIGTERM');
        await new Promise((r) => { const t = setTimeout(() => { c.kill('SIGKILL'); r(); }, 5000); c.on('exit', () => { clearTimeout(t); r(); }); });
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const bin of ['portolan-testkit', 'portolan']) {
      if (!existsSync(join(BIN, bin))) throw new Error(`${join(BIN, bin)} is missing: run scripts/test (it builds it)`);
    }
    const testkit = spawn(join(BIN, 'portolan-testkit'), [
      '--kinds', kinds.join(','), '--many-tags', String(manyTags), '--with-unreachable', '--with-anonymous-copies', '--with-rate-limited-copy', '--stop-on-stdin-eof',
      '--json', join(dir, 'registries.json'), '--portolan-config', join(dir, 'portolan.toml'),
      ...(slowMs > 0 ? ['--with-slow-copy', String(slowMs)] : []),
    ], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(testkit);
    await waitForLine(testkit, 'ready', 'portolan-testkit', 120_000);
    const registries = JSON.parse(readFileSync(join(dir, 'registries.json'), 'utf8')).registries;

    const port = await freePort();
    const server = spawn(join(BIN, 'portolan'), ['--config', join(dir, 'portolan.toml'), '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PORTOLAN_LOG: process.env.PORTOLAN_LOG ?? 'warn' },
    });
    children.push(server);
    let serverLog = '';
    server.stdout.on('data', (d) => { serverLog += d; });
    server.stderr.on('data', (d) => { serverLog += d; });
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${baseUrl}/healthz`, 30_000, server, 'portolan');

    // playwright gives every launch a fresh, empty profile directory of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    return { baseUrl, registries, browser, dir, stop, serverLog: () => serverLog };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A page that records console errors and failed hydration; `errors()` returns them. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return { page, context, errors: () => errors };
}

/** Waits until the page has hydrated (the app marks <html data-hydrated="true"> once it runs in the browser). */
export async function hydrated(page) {
  await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, { timeout: 60_000 });
}
