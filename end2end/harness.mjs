// Starts what the end-to-end tests run against — seeded registries (portolan-testkit), the
// Portolan server, headless Chromium, and with `oidc: true` an OpenID provider Portolan signs in
// with — on free loopback ports, and stops all of it afterwards, also when a test fails.
//
// Secrets: every response the browser receives (headers and body, from Portolan, the registries'
// pages or the provider), every response of the tests' own `fetch` calls and Portolan's log are
// searched for the secrets the test kit configured (registry passwords, the static bearer token,
// the OpenID client secret, signing keys, the users' passwords); `stack.secretHits()` lists what
// was found and `noSecretsTest(stack)` is the check each test file ends with.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
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

// Ports for servers started as other processes come from below the kernel's ephemeral range,
// where outgoing connections take theirs: a port found by listening on port 0 and letting go can
// be taken by one before the server binds it. Random, checked free, never handed out twice here;
// a start that fails on a taken port anyway is tried again on another (see startStack). The
// test kit does the same for what it starts (crates/testkit/src/process.rs).
const START_ATTEMPTS = 4;
const handedOut = new Set();

function portRange() {
  let ephemeralStart = 32768;
  try {
    ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch { /* not Linux: the usual default */ }
  return ephemeralStart > 21_000 ? [20_000, ephemeralStart] : [1_024, Math.max(ephemeralStart, 2_048)];
}

function canListen(port) {
  return new Promise((res) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

async function unusedPort() {
  const [low, high] = portRange();
  for (let i = 0; i < 1000; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port in ${low}..${high} after 1,000 tries`);
}

/** Whether a start failed because a port was taken (as Portolan, Go and Node say it). */
const portTaken = (e) => /address already in use|EADDRINUSE/i.test(String(e?.message ?? e));

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

async function waitForHttp(url, timeoutMs, child, name, log = () => '') {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`${name} exited with ${exited}:\n${log().split('\n').slice(-15).join('\n')}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/**
 * What to search for, for one secret: each long line of a PEM key; else the value as it is,
 * URL-encoded, in base64 and base64url, and — for a secret sent with a user name — the HTTP
 * Basic form, base64 of `user:value` (also with both URL-encoded, as OAuth's client_secret_basic
 * sends them).
 */
export function needlesOf({ what, value, user }) {
  if (!value) return [];
  if (value.includes('-----BEGIN')) {
    return value.split('\n').map((l) => l.trim()).filter((l) => l.length >= 32 && !l.startsWith('-----')).map((n) => ({ what, needle: n }));
  }
  const forms = [[value, ''], [encodeURIComponent(value), ' (URL-encoded)'], [Buffer.from(value).toString('base64').replace(/=+$/, ''), ' (base64)'],
    [Buffer.from(value).toString('base64url'), ' (base64url)']];
  if (user) {
    forms.push([Buffer.from(`${user}:${value}`).toString('base64'), ' (in a Basic header)']);
    forms.push([Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(value)}`).toString('base64'), ' (in a Basic header, URL-encoded)']);
  }
  const seen = new Set();
  return forms.filter(([n]) => n.length >= 6 && !seen.has(n) && seen.add(n)).map(([needle, how]) => ({ what: what + how, needle }));
}

/** Records where configured secrets showed up. */
export class SecretWatch {
  constructor() {
    this.needles = [];
    this.hits = [];
    this.pending = new Set();
    this.scanned = 0;
  }

  setSecrets(secrets) {
    if (!Array.isArray(secrets) || secrets.length === 0) throw new Error('the secret watch was given no secrets: a scan for nothing proves nothing');
    this.needles = secrets.flatMap(needlesOf).map(({ what, needle }) => ({ what, needle: Buffer.from(needle) }));
    if (this.needles.length === 0) throw new Error('the configured secrets gave nothing to search for');
  }

  /** Searches `data` (a string or bytes) seen at `where`. */
  scan(where, data) {
    if (data == null) return;
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(String(data));
    this.scanned += 1;
    for (const { what, needle } of this.needles) {
      if (bytes.includes(needle)) this.hits.push(`${what} in ${where}`);
    }
  }

  /** Scans a playwright response (status line, headers, body) once its body has arrived. */
  watchResponse(response) {
    const task = (async () => {
      const where = `the response to ${response.request().method()} ${response.url()}`;
      this.scan(`${where} (headers)`, JSON.stringify(await response.allHeaders().catch(() => response.headers())));
      // Redirects and aborted loads have no body.
      const body = await response.body().catch(() => null);
      this.scan(where, body);
    })();
    this.pending.add(task);
    task.finally(() => this.pending.delete(task));
  }

  async settle() {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** Which stack a browser belongs to, so pages opened on it are watched. */
const watches = new WeakMap();

// The tests' own HTTP requests are watched too: their answers are searched like the browser's.
const plainFetch = globalThis.fetch;
let fetchWatch = null;
globalThis.fetch = async (input, init) => {
  const response = await plainFetch(input, init);
  if (fetchWatch) {
    const url = typeof input === 'string' ? input : input.url ?? String(input);
    const copy = response.clone();
    fetchWatch.scan(`the response to fetch ${url} (headers)`, JSON.stringify([...copy.headers]));
    fetchWatch.scan(`the response to fetch ${url}`, Buffer.from(await copy.arrayBuffer()));
  }
  return response;
};

/**
 * Starts registries, Portolan and Chromium. Call `stop()` in an `after` hook.
 *
 * `oidc: true` also starts an OpenID provider and configures sign-in (see portolan-testkit's
 * --with-oidc): `stack.oidc` has its URL, client and users; `bearer: true` adds `token-bearer`,
 * the token registry with a static bearer token; `crawl: true` turns the crawl of the registries
 * started on (unthrottled), so the where-used index and the storage figures cover them whole.
 */
export async function startStack(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(options);
    } catch (e) {
      // Portolan's port was taken before it bound it: everything again, on another port (the
      // provider, if any, was told to send people back to that one).
      if (attempt < START_ATTEMPTS && portTaken(e)) continue;
      throw e;
    }
  }
}

async function startStackOnce({ kinds = ['anonymous', 'ferro', 'token'], manyTags = 260, slowMs = 0, oidc = false, bearer = false, crawl = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'portolan-e2e-'));
  const children = [];
  const watch = new SecretWatch();
  let browser;
  const stop = async () => {
    if (fetchWatch === watch) fetchWatch = null;
    if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 30_000))]);
    // Each child stops by itself on SIGTERM: Portolan ends its runs (up to 20 s), the test kit
    // removes its registries' storage. SIGKILL only after 30 s: one killed in the middle of
    // that (5 s was not always enough on a busy machine) left a registry's storage behind.
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.stdin?.end();
        c.kill('SIGTERM');
        let timer;
        await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => { c.kill('SIGKILL'); r(); }, 30_000); })]);
        clearTimeout(timer);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const bin of ['portolan-testkit', 'portolan']) {
      if (!existsSync(join(BIN, bin))) throw new Error(`${join(BIN, bin)} is missing: run scripts/test (it builds it)`);
    }
    // Portolan's port is chosen first: the provider must know where to send people back.
    const port = await unusedPort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const testkit = spawn(join(BIN, 'portolan-testkit'), [
      '--kinds', kinds.join(','), '--many-tags', String(manyTags), '--with-unreachable', '--with-anonymous-copies', '--with-rate-limited-copy', '--stop-on-stdin-eof',
      '--json', join(dir, 'registries.json'), '--portolan-config', join(dir, 'portolan.toml'),
      ...(slowMs > 0 ? ['--with-slow-copy', String(slowMs)] : []),
      ...(oidc ? ['--with-oidc', '--portolan-url', baseUrl] : []),
      ...(bearer ? ['--with-bearer-copy'] : []),
      ...(crawl ? ['--with-crawl'] : []),
    ], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(testkit);
    await waitForLine(testkit, 'ready', 'portolan-testkit', 120_000);
    const testkitInfo = JSON.parse(readFileSync(join(dir, 'registries.json'), 'utf8'));
    const { registries, secrets = [] } = testkitInfo;
    watch.setSecrets(secrets);
    fetchWatch = watch;

    const server = spawn(join(BIN, 'portolan'), ['--config', join(dir, 'portolan.toml'), '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Verbose enough that a secret written to the log would be seen.
      env: { ...process.env, PORTOLAN_LOG: process.env.PORTOLAN_LOG ?? 'info,portolan_oci=debug,portolan_server=debug,portolan_app=debug' },
    });
    children.push(server);
    let serverLog = '';
    server.stdout.on('data', (d) => { serverLog += d; });
    server.stderr.on('data', (d) => { serverLog += d; });
    await waitForHttp(`${baseUrl}/healthz`, 30_000, server, 'portolan', () => serverLog);

    // playwright gives every launch a fresh, empty profile directory of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    watches.set(browser, watch);
    const secretHits = async () => {
      await watch.settle();
      watch.scan("Portolan's log", serverLog);
      return [...new Set(watch.hits)];
    };
    return {
      baseUrl, registries, browser, dir, stop, serverLog: () => serverLog,
      oidc: testkitInfo.oidc ?? null, secrets, secretHits, scanned: () => watch.scanned,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A page that records console errors and failed hydration; `errors()` returns them. Every
 * response it receives is searched for secrets (see the top of this file).
 *
 * Chromium reports each response with an error status as a console error ("Failed to load
 * resource: … status of 404"): a test expecting such statuses passes them in `expectedStatuses`.
 */
export async function newPage(browser, options = {}, { expectedStatuses = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const watch = watches.get(browser);
  if (watch) context.on('response', (r) => watch.watchResponse(r));
  const page = await context.newPage();
  const errors = [];
  const expected = (text) => expectedStatuses.some((s) => text.includes(`Failed to load resource: the server responded with a status of ${s} `));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !expected(m.text())) errors.push(`console: ${m.text()} (${page.url()})`); });
  return { page, context, errors: () => errors };
}

/** The test each file ends with: no configured secret in any response or in Portolan's log. */
export async function noSecretsTest(stack, assert) {
  const hits = await stack.secretHits();
  assert.ok(stack.secrets.length > 0, 'there were secrets to look for');
  // Each file loads dozens of pages, each with its scripts, styles and server calls.
  assert.ok(stack.scanned() >= 20, `responses were searched (${stack.scanned()})`);
  assert.deepEqual(hits, [], `secrets showed up:\n${hits.join('\n')}`);
}

/** Waits until the page has hydrated (the app marks <html data-hydrated="true"> once it runs in the browser). */
export async function hydrated(page) {
  await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, { timeout: 60_000 });
}

/**
 * Signs `login` in through the provider's HTML form, in a new browser context, starting from
 * Portolan's sign-in page; ends on `next`. Returns the page (see `newPage`).
 */
export async function signIn(stack, login, { next = '/', expectedStatuses = [] } = {}) {
  const user = stack.oidc?.users.find((u) => u.login === login);
  if (!user) throw new Error(`no user ${login}: start the stack with { oidc: true }`);
  const session = await newPage(stack.browser, {}, { expectedStatuses });
  const { page } = session;
  await page.goto(`${stack.baseUrl}/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByTestId('providers').getByRole('link', { name: /^Sign in with / }).click();
  await page.waitForURL((u) => u.origin === stack.oidc.issuer);
  await page.locator('#login').fill(user.login);
  await page.locator('#password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => `${u.origin}${u.pathname}${u.search}` === `${stack.baseUrl}${next}`);
  return { ...session, user };
}

/** The manifest media types a registry may answer with. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/**
 * The distribution API of one of the stack's registries, straight from the tests (not through
 * Portolan), with the test kit's credentials: Basic to the token server, then its bearer token.
 */
export function registryApi(stack, name) {
  const registry = stack.registries.find((r) => r.name === name);
  if (!registry) throw new Error(`no registry ${name}`);
  const send = async (method, path, headers = {}) => {
    let response = await fetch(`${registry.url}${path}`, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (response.status === 401 && challenge.startsWith('Bearer ') && registry.username) {
      await response.arrayBuffer();
      const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      const url = new URL(params.realm);
      for (const key of ['service', 'scope']) if (params[key]) url.searchParams.set(key, params[key]);
      const basic = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
      const answer = await fetch(url, { headers: { authorization: `Basic ${basic}` }, signal: AbortSignal.timeout(30_000) });
      if (!answer.ok) throw new Error(`the token server answered ${answer.status}`);
      const { token } = await answer.json();
      response = await fetch(`${registry.url}${path}`, { method, headers: { ...headers, authorization: `Bearer ${token}` }, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    }
    return response;
  };
  return {
    registry,
    send,
    /** `{ status, digest, bytes }` of a manifest by tag or digest (digest: sha256 of the bytes). */
    async manifest(repository, reference) {
      const r = await send('GET', `/v2/${repository}/manifests/${reference}`, { accept: MANIFEST_TYPES });
      const bytes = Buffer.from(await r.arrayBuffer());
      const digest = r.status === 200 ? `sha256:${createHash('sha256').update(bytes).digest('hex')}` : null;
      return { status: r.status, digest, bytes, header: r.headers.get('docker-content-digest') };
    },
    /** The referrers API's answer for `digest` (status, and the listed digests). */
    async referrers(repository, digest) {
      const r = await send('GET', `/v2/${repository}/referrers/${digest}`, { accept: 'application/vnd.oci.image.index.v1+json' });
      const body = r.status === 200 ? await r.json() : (await r.arrayBuffer(), null);
      return { status: r.status, digests: (body?.manifests ?? []).map((m) => m.digest) };
    },
  };
}
