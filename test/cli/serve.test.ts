import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startServer } from '../../src/cli/serve.js';
import { GradlensError } from '../../src/errors.js';
import { BIN, assertOneLineError } from './run-cli.js';
import { ROOT } from '../helpers.js';

// ---------------------------------------------------------------------------------------------------------------
// Helpers

interface Reply { status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number }

/** One HTTP request; `path` is sent verbatim (no normalisation), so traversal attempts reach the server as written. */
function get(port: number, path: string, o: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const req = request({ host: o.host ?? '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers, agent: o.agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), ms: Date.now() - started }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${o.method ?? 'GET'} ${path.slice(0, 80)}: no response within 5 s`)));
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-serve-'));

function assertCommonHeaders(r: Reply, what: string): void {
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', `${what}: COOP`);
  assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', `${what}: COEP`);
  assert.equal(r.headers['cross-origin-resource-policy'], 'same-origin', `${what}: CORP`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(r.headers['cache-control'], 'no-cache', `${what}: Cache-Control`);
}

// ---------------------------------------------------------------------------------------------------------------
// A server on a temp app folder and temp model folders

const SECRET = `TOPSECRET-${randomBytes(8).toString('hex')}`;
const MODEL = randomBytes(1_500_000 + 7); // more than one read chunk
const INDEX_HTML = '<!doctype html><title>gradlens test app</title>\n';
const APP_JS = 'console.log("gradlens test app");\n';
let base = '';
let server: Awaited<ReturnType<typeof startServer>> | undefined;
let port = 0;
let missing: Reply;

before(async () => {
  base = tmp();
  const app = join(base, 'app');
  mkdirSync(join(app, 'sub'), { recursive: true });
  writeFileSync(join(app, 'index.html'), INDEX_HTML);
  writeFileSync(join(app, 'app.js'), APP_JS);
  writeFileSync(join(app, 'style.css'), 'body{}\n');
  writeFileSync(join(app, 'ort.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  writeFileSync(join(app, 'sub', 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(base, 'secret.txt'), SECRET);
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside', 'secret.txt'), SECRET);
  const m = join(base, 'm');
  mkdirSync(join(m, 'onnx'), { recursive: true });
  writeFileSync(join(m, 'onnx', 'model.onnx'), MODEL);
  writeFileSync(join(m, 'onnx', 'empty.onnx_data'), '');
  writeFileSync(join(m, 'config.json'), '{"model_type":"bert"}\n');
  writeFileSync(join(m, 'README.md'), '# m\n');
  writeFileSync(join(m, 'A.txt'), 'decoded twice\n');
  writeFileSync(join(m, '%41.txt'), 'decoded once\n');
  writeFileSync(join(m, '.env'), SECRET);
  symlinkSync('../secret.txt', join(m, 'leak.txt'));
  symlinkSync(join(base, 'secret.txt'), join(m, 'abs-leak.txt'));
  symlinkSync('../outside', join(m, 'outdir'));
  symlinkSync('config.json', join(m, 'alias.json'));
  execFileSync('mkfifo', [join(m, 'pipe')]);
  execFileSync('mkfifo', [join(m, 'pipe.onnx')]);
  const m2 = join(base, 'second-model');
  mkdirSync(m2);
  writeFileSync(join(m2, 'config.json'), '{"model_type":"distilbert"}\n');
  server = await startServer({ port: 0, host: '127.0.0.1', appDir: app, mounts: [{ name: 'm', dir: m }, { name: 'second-model', dir: m2 }] });
  port = server.port;
  missing = await get(port, '/models/m/no-such-file.txt');
});

after(async () => {
  await server?.close();
  if (base) rmSync(base, { recursive: true, force: true });
});

test('startServer: port 0 picks a free port; url names host and port', () => {
  assert.ok(port > 0);
  assert.equal(server!.url, `http://127.0.0.1:${port}/`);
});

test('serves index.html at / and app files with their content types and the isolation headers', async () => {
  const root = await get(port, '/');
  assert.equal(root.status, 200);
  assert.equal(root.body.toString(), INDEX_HTML);
  assert.equal(root.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(root.headers['content-length'], String(Buffer.byteLength(INDEX_HTML)));
  assertCommonHeaders(root, '/');
  const types: [string, string][] = [
    ['/index.html', 'text/html; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/ort.wasm', 'application/wasm'],
    ['/sub/icon.svg', 'image/svg+xml'],
    ['/models/m/config.json', 'application/json'],
    ['/models/m/README.md', 'text/plain; charset=utf-8'],
    ['/models/m/onnx/model.onnx', 'application/octet-stream'],
    ['/models/m/onnx/empty.onnx_data', 'application/octet-stream'],
  ];
  for (const [path, type] of types) {
    const r = await get(port, path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['content-type'], type, path);
    assertCommonHeaders(r, path);
  }
  assert.equal((await get(port, '/app.js')).body.toString(), APP_JS);
  assert.equal((await get(port, '/app.js?v=3')).body.toString(), APP_JS, 'a query string is ignored');
});

test('serves a model file with its exact bytes and Content-Length; HEAD sends the headers only', async () => {
  const r = await get(port, '/models/m/onnx/model.onnx');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(MODEL.length));
  assert.ok(r.body.equals(MODEL), 'the same bytes');
  const empty = await get(port, '/models/m/onnx/empty.onnx_data');
  assert.equal(empty.status, 200);
  assert.equal(empty.headers['content-length'], '0');
  assert.equal(empty.body.length, 0);
  const head = await get(port, '/models/m/onnx/model.onnx', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(MODEL.length));
  assert.equal(head.headers['content-type'], 'application/octet-stream');
  assert.equal(head.body.length, 0);
  assertCommonHeaders(head, 'HEAD');
  const second = await get(port, '/models/second-model/config.json');
  assert.equal(second.body.toString(), '{"model_type":"distilbert"}\n');
  const alias = await get(port, '/models/m/alias.json');
  assert.equal(alias.status, 200, 'a link to a file inside the mount is followed');
  assert.equal(alias.body.toString(), '{"model_type":"bert"}\n');
});

test('/models/index.json lists the mounts in order', async () => {
  const r = await get(port, '/models/index.json');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assertCommonHeaders(r, 'index.json');
  assert.deepEqual(JSON.parse(r.body.toString()), { models: [{ name: 'm', path: '/models/m/' }, { name: 'second-model', path: '/models/second-model/' }] });
});

test('no directory listings, unknown mounts and missing files: 404', async () => {
  assert.equal(missing.status, 404);
  assertCommonHeaders(missing, '404');
  for (const path of ['/models/m/', '/models/m', '/models/m/onnx', '/models/m/onnx/', '/models/', '/models', '/sub', '/sub/', '/models/nope/config.json', '/models//m/config.json', '/models/m//config.json', '/nope.js']) {
    const r = await get(port, path);
    assert.equal(r.status, 404, path);
    assert.deepEqual(r.body, missing.body, `${path}: the same body as a missing file`);
  }
});

test('the path is percent-decoded exactly once', async () => {
  const once = await get(port, '/models/m/%2541.txt');
  assert.equal(once.status, 200);
  assert.equal(once.body.toString(), 'decoded once\n');
  const a = await get(port, '/models/m/%41.txt');
  assert.equal(a.body.toString(), 'decoded twice\n', '%41 is A');
  assert.equal((await get(port, '/models/m/%252e%252e/secret.txt')).status, 404);
});

test('traversal, encoded traversal, backslashes, NUL bytes, hidden files and links out of the mount: 404 without the secret', async () => {
  const attempts = [
    '/models/m/../secret.txt',
    '/models/m/./config.json',
    '/models/m/%2e%2e/secret.txt',
    '/models/m/%2E%2E%2Fsecret.txt',
    '/models/m/..%2fsecret.txt',
    '/models/m/.%2e/secret.txt',
    '/models/m/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd',
    '/models/m/onnx/../../secret.txt',
    '/models/m/..\\secret.txt',
    '/models/m/%5c..%5csecret.txt',
    '/models/m/..%5csecret.txt',
    '/models/m/config.json%00',
    '/models/m/%00/../../secret.txt',
    '/models/m/.env',
    '/models/m/leak.txt',
    '/models/m/abs-leak.txt',
    '/models/m/outdir/secret.txt',
    '/models/m/outdir/../secret.txt',
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/models/../secret.txt',
    '/models/%2e%2e/secret.txt',
    '/models/m%2f..%2f..%2fsecret.txt',
  ];
  for (const path of attempts) {
    for (const method of ['GET', 'HEAD']) {
      const r = await get(port, path, { method });
      assert.equal(r.status, 404, `${method} ${path}: ${r.status}`);
      assert.ok(!r.body.toString('latin1').includes(SECRET), `${method} ${path}: leaks the secret`);
      assert.ok(!r.body.toString('latin1').includes('root:'), `${method} ${path}: leaks /etc/passwd`);
      if (method === 'GET') assert.deepEqual(r.body, missing.body, `${path}: the same response as a missing file`);
      else assert.equal(r.headers['content-length'], missing.headers['content-length'], `HEAD ${path}`);
    }
  }
});

test('a FIFO inside the mount: 404 at once, never opened', async () => {
  for (const path of ['/models/m/pipe', '/models/m/pipe.onnx']) {
    const r = await get(port, path);
    assert.equal(r.status, 404, path);
    assert.ok(r.ms < 2000, `${path}: answered in ${r.ms} ms`);
  }
  const still = await get(port, '/models/m/config.json');
  assert.equal(still.status, 200, 'the server still answers');
});

test('only GET and HEAD: other methods 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await get(port, '/models/m/config.json', { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers['allow'], 'GET, HEAD', method);
    assertCommonHeaders(r, method);
  }
  const withBody = await get(port, '/', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' });
  assert.equal(withBody.status, 405);
});

test('a request with a body: 413; an over-long request target: 414; a bad escape: 400', async () => {
  const cl = await get(port, '/models/m/config.json', { headers: { 'Content-Length': '5' }, body: 'hello' });
  assert.equal(cl.status, 413);
  assert.equal(cl.headers['connection'], 'close');
  const te = await get(port, '/models/m/config.json', { headers: { 'Transfer-Encoding': 'chunked' }, body: 'hello' });
  assert.equal(te.status, 413);
  const zero = await get(port, '/models/m/config.json', { headers: { 'Content-Length': '0' } });
  assert.equal(zero.status, 200, 'Content-Length: 0 is no body');
  const long = await get(port, `/models/m/${'a'.repeat(8 * 1024 + 1)}`);
  assert.equal(long.status, 414);
  assertCommonHeaders(long, '414');
  const huge = await get(port, `/${'a'.repeat(20 * 1024)}`);
  assert.equal(huge.status, 431, 'a 20 KiB request line is over the 16 KiB header limit');
  assertCommonHeaders(huge, '431');
  const headers = await get(port, '/', { headers: { 'X-Padding': 'p'.repeat(17 * 1024) } });
  assert.equal(headers.status, 431, 'headers over 16 KiB');
  const justUnder = await get(port, `/models/m/${'a'.repeat(8 * 1024 - 20)}`);
  assert.equal(justUnder.status, 404, 'a long but allowed target is looked up');
  for (const path of ['/models/m/%zz', '/models/m/config.json%', '/models/m/%e2%82', '/%c0%ae%c0%ae/secret.txt']) {
    const r = await get(port, path);
    assert.equal(r.status, 400, path);
    assertCommonHeaders(r, path);
  }
});

test('a request the HTTP parser refuses gets a 400 with the same headers, then the connection closes', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write('GET /models/m/config.json HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n');
  });
  assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(raw, /\r\nCross-Origin-Embedder-Policy: require-corp\r\n/);
  assert.match(raw, /\r\nX-Content-Type-Options: nosniff\r\n/);
  assert.doesNotMatch(raw, /bert/);
});

test('on loopback, a Host header naming another host is refused (DNS rebinding)', async () => {
  const evil = await get(port, '/models/m/config.json', { headers: { Host: `evil.example:${port}` } });
  assert.equal(evil.status, 421);
  assert.ok(!evil.body.toString().includes('bert'));
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
    assert.equal((await get(port, '/models/m/config.json', { headers: { Host: host } })).status, 200, host);
  }
});

test('startServer: a taken port is one clear error', async () => {
  await assert.rejects(startServer({ port, host: '127.0.0.1', appDir: join(base, 'app'), mounts: [] }), (e: unknown) => {
    assert.ok(e instanceof GradlensError);
    assert.equal(e.message, `port ${port} on 127.0.0.1 is in use: pass --port`);
    return true;
  });
  await assert.rejects(startServer({ port: 0, host: '127.0.0.1', appDir: join(base, 'app'), mounts: [{ name: '..', dir: base }] }), GradlensError);
  await assert.rejects(startServer({ port: 0, host: '127.0.0.1', appDir: join(base, 'app'), mounts: [{ name: 'x', dir: join(base, 'nope') }] }), GradlensError);
});

// ---------------------------------------------------------------------------------------------------------------
// The command

const WEB_DIR = join(ROOT, 'dist', 'web');
const WEB_INDEX = join(WEB_DIR, 'index.html');
let createdIndex = false, createdWebDir = false;
const children = new Set<ChildProcess>();

before(() => {
  // The real build produces dist/web/; a tsc-only build does not.
  if (!existsSync(WEB_INDEX)) {
    if (!existsSync(WEB_DIR)) {
      mkdirSync(WEB_DIR, { recursive: true });
      createdWebDir = true;
    }
    writeFileSync(WEB_INDEX, '<!doctype html><title>gradlens</title>\n', { flag: 'wx' });
    createdIndex = true;
  }
});

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (createdIndex) rmSync(WEB_INDEX, { force: true });
  if (createdWebDir) {
    try { rmdirSync(WEB_DIR); } catch { /* the build put something there meanwhile */ }
  }
});

interface Serving { child: ChildProcess; firstLine: Promise<string>; exit: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> }

function serve(args: string[]): Serving {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  children.add(child);
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line on stdout within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', () => {
      const nl = stdout.indexOf('\n');
      if (nl !== -1) { clearTimeout(timer); resolve(stdout.slice(0, nl)); }
    });
    void exit.then((r) => { clearTimeout(timer); reject(new Error(`exited (${r.code ?? r.signal}) before printing a line; stderr: ${r.stderr}`)); });
  });
  firstLine.catch(() => {});
  return { child, firstLine, exit };
}

/** Runs a serve command that is expected to stop by itself (an error); killed after 15 s. */
async function serveFails(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const s = serve(args);
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
  const r = await s.exit;
  clearTimeout(timer);
  assert.equal(r.signal, null, `serve ${args.join(' ')} did not stop by itself`);
  return { code: r.code ?? -1, stderr: r.stderr, stdout: r.stdout };
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => new Promise<T>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
});

function externalIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function connectError(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, 3000);
    socket.on('connect', () => { clearTimeout(timer); socket.destroy(); resolve('connected'); });
    socket.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(e.code ?? e.message); });
  });
}

test('gradlens serve: binds 127.0.0.1 by default, serves the demo and --model folders, exits 0 on SIGINT', async () => {
  const dir = tmp();
  const name = basename(dir);
  writeFileSync(join(dir, 'config.json'), '{"mine":true}\n');
  const s = serve(['--port', '0', '--model', dir]);
  try {
    const line = await s.firstLine;
    const m = /^gradlens: serving the web app at (http:\/\/127\.0\.0\.1:(\d+)\/) \(models: (.*)\)$/.exec(line);
    assert.ok(m, `first line: ${line}`);
    assert.equal(m[3], `/models/qa/, /models/sentiment/, /models/image/, /models/${name}/`);
    const p = Number(m[2]);
    assert.ok(p > 0);
    const qa = await get(p, '/models/qa/config.json');
    assert.equal(qa.status, 200);
    assert.ok(qa.body.equals(readFileSync(join(ROOT, 'demo', 'qa', 'config.json'))), 'the demo config.json');
    assertCommonHeaders(qa, 'demo');
    assert.equal((await get(p, `/models/${name}/config.json`)).body.toString(), '{"mine":true}\n');
    const index = JSON.parse((await get(p, '/models/index.json')).body.toString());
    assert.deepEqual(index.models.map((x: { name: string }) => x.name), ['qa', 'sentiment', 'image', name]);
    const sample = await get(p, '/models/image/samples/triangle.png');
    assert.ok(sample.body.equals(readFileSync(join(ROOT, 'demo', 'image', 'samples', 'triangle.png'))), 'the demo image model\'s samples');
    const app = await get(p, '/');
    assert.equal(app.status, 200);
    assert.ok(app.body.equals(readFileSync(WEB_INDEX)), 'the app index.html');
    assert.equal((await get(p, '/models/qa/../../package.json')).status, 404);
    const ip = externalIPv4();
    if (ip) assert.equal(await connectError(ip, p), 'ECONNREFUSED', `not listening on ${ip}`);
    // An idle keep-alive connection does not hold the shutdown up.
    const agent = new Agent({ keepAlive: true });
    assert.equal((await get(p, '/models/qa/config.json', { agent })).status, 200);
    s.child.kill('SIGINT');
    const r = await withTimeout(s.exit, 5000, 'exit after SIGINT');
    agent.destroy();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.trim().split('\n').length, 1, 'one line on stdout');
    assert.notEqual(await connectError('127.0.0.1', p), 'connected', 'the port is closed');
  } finally {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gradlens serve: SIGTERM stops it too (exit 0)', async () => {
  const s = serve(['--port', '0']);
  try {
    const line = await s.firstLine;
    assert.match(line, /\(models: \/models\/qa\/, \/models\/sentiment\/, \/models\/image\/\)$/);
    s.child.kill('SIGTERM');
    const r = await withTimeout(s.exit, 5000, 'exit after SIGTERM');
    assert.equal(r.code, 0, r.stderr);
  } finally {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  }
});

test('gradlens serve: a taken port is exit 1 with one line', async () => {
  const blocker: NetServer = createNetServer();
  await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const taken = (blocker.address() as { port: number }).port;
  try {
    const r = await serveFails(['--port', String(taken)]);
    assert.equal(r.code, 1);
    assertOneLineError(r, new RegExp(`^gradlens: port ${taken} on 127\\.0\\.0\\.1 is in use: pass --port$`));
    assert.equal(r.stdout, '');
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

test('gradlens serve: bad --model folders and --port values are exit 1 with one line', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'file.txt');
    writeFileSync(file, 'x');
    const qa = join(dir, 'qa');
    mkdirSync(qa);
    const spaced = join(dir, 'my model');
    mkdirSync(spaced);
    const hidden = join(dir, '.hidden');
    mkdirSync(hidden);
    const a1 = join(dir, 'a1', 'same'), a2 = join(dir, 'a2', 'same');
    mkdirSync(a1, { recursive: true });
    mkdirSync(a2, { recursive: true });
    const cases: [string[], RegExp][] = [
      [['--port', '0', '--model', join(dir, 'missing')], /--model .*missing: no such folder$/],
      [['--port', '0', '--model', file], /--model .*file\.txt is not a folder$/],
      [['--port', '0', '--model', qa], /the name "qa" is taken/],
      [['--port', '0', '--model', a1, '--model', a2], /the name "same" is taken/],
      [['--port', '0', '--model', spaced], /folder name "my model" cannot be a URL segment/],
      [['--port', '0', '--model', hidden], /folder name "\.hidden" cannot be a URL segment/],
      [['--port', '70000'], /--port must be an integer from 0 to 65535, got "70000"/],
      [['--port', '8x'], /--port must be an integer from 0 to 65535, got "8x"/],
      [['--port', '-1'], /--port must be an integer from 0 to 65535/],
      [['--port', '0', '--host', 'bad host\n'], /--host must be an IP address or a host name/],
    ];
    for (const [args, pattern] of cases) {
      const r = await serveFails(args);
      assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
      assertOneLineError(r, pattern);
      assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
