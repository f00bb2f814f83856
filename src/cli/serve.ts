import { Command } from 'commander';
import { constants, createReadStream, statSync, type Stats } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { basename, extname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { fail, GradlensError } from '../errors.js';
import { DEMO_MODELS } from '../io/folder.js';
import { OPEN_FLAGS, errCode, isInside } from '../io/files.js';

/**
 * `gradlens serve`: a static file server for the browser app and model folders.
 *
 * Everything a request names is hostile input, and so is every model folder:
 * - only GET and HEAD, without a request body, with a request target of at most 8 KiB;
 * - the path is percent-decoded once; NUL bytes, backslashes, control characters and segments that start with "."
 *   (".", "..", hidden files) are refused;
 * - a file is served only if its real path (links followed) lies inside the real path of the app or mount folder,
 *   it is a regular file (checked before opening, opened non-blocking and without following a final link, checked
 *   again on the descriptor) and, where /proc tells, the opened file itself lies inside the folder;
 * - anything refused past the request line is the same 404 as a missing file, so nothing outside is revealed;
 * - no directory listings; files are streamed, never more than the size announced in Content-Length;
 * - on a loopback address, requests whose Host header names another host are refused (DNS rebinding).
 */

export interface Mount { name: string; dir: string }

export interface Server { url: string; port: number; close(): Promise<void> }

/** Mount names: one URL segment that is not refused as hidden (a leading "."; so neither "." nor ".."). */
const validMountName = (name: string): boolean => /^[A-Za-z0-9._-]{1,255}$/.test(name) && !name.startsWith('.');

const KiB = 1024;
const LIMITS = { target: 8 * KiB, headers: 16 * KiB, requestTimeoutMs: 30_000, headersTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 } as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};
const contentType = (path: string): string => TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';

/** Headers on every response: cross-origin isolation (SharedArrayBuffer for the WASM runtime's threads) and no sniffing. */
const COMMON_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

/** The safe reader's flags (io/files.ts), and no link as the last segment. */
const SERVE_FLAGS = OPEN_FLAGS | (constants.O_NOFOLLOW ?? 0);


/** A GradlensError from fail(), as a value (for promise rejections). */
function failure(message: string): GradlensError {
  try {
    fail(message);
  } catch (e) {
    return e as GradlensError;
  }
}

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
  return false;
}

/** The host name of a Host header value ("name:port", "[v6]:port"), lower-cased. */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export async function startServer(o: { port: number; host: string; appDir: string; mounts: Mount[] }): Promise<Server> {
  const realDir = async (dir: string, what: string): Promise<string> => {
    let real: string;
    try {
      real = await realpath(resolve(dir));
    } catch (e) {
      throw failure(errCode(e) === 'ENOENT' ? `${what} ${dir} does not exist` : `cannot open ${what} ${dir}: ${errCode(e)}`);
    }
    if (!(await stat(real)).isDirectory()) throw failure(`${what} ${dir} is not a folder`);
    return real;
  };
  const appRoot = await realDir(o.appDir, 'the web app folder');
  const mounts = new Map<string, string>();
  for (const m of o.mounts) {
    if (!validMountName(m.name)) throw failure(`model name ${JSON.stringify(m.name)} must be letters, digits, ".", "_" or "-", not starting with "."`);
    if (mounts.has(m.name) || m.name === 'index.json') throw failure(`model name ${JSON.stringify(m.name)} is taken`);
    mounts.set(m.name, await realDir(m.dir, 'the model folder'));
  }
  const index = Buffer.from(`${JSON.stringify({ models: o.mounts.map((m) => ({ name: m.name, path: `/models/${m.name}/` })) })}\n`, 'utf8');
  const checkHost = isLoopback(o.host);

  const server = createServer({
    maxHeaderSize: LIMITS.headers,
    requestTimeout: LIMITS.requestTimeoutMs,
    headersTimeout: LIMITS.headersTimeoutMs,
    keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
  }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(req, res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.timeout = 2 * LIMITS.requestTimeoutMs;
  // Requests the parser refuses (a malformed request line, headers over 16 KiB, too slow): the answer carries the
  // same headers as every other, then the connection closes.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const inProgress = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = `${STATUS_CODES[status]!.toLowerCase()}\n`;
    const headers = { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' };
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '';
    const hasBody = req.headers['transfer-encoding'] !== undefined
      || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    // A body left unread: the connection is not reused.
    if (hasBody) res.setHeader('Connection', 'close');
    if (target.length > LIMITS.target) return send(req, res, 414, 'request target too long');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(req, res, 405, 'method not allowed');
    }
    if (hasBody) return send(req, res, 413, 'a GET or HEAD request takes no body');
    if (checkHost && req.headers.host !== undefined && !isLoopback(hostOf(req.headers.host))) {
      return send(req, res, 421, 'this server answers only to loopback host names');
    }
    if (!target.startsWith('/')) return send(req, res, 400, 'bad request target');
    let path: string;
    try {
      path = decodeURIComponent(target.split('?', 1)[0]!);
    } catch {
      return send(req, res, 400, 'bad percent-escape in the path');
    }
    const segments = path === '/' ? ['index.html'] : path.slice(1).split('/');
    if (segments.some((s) => s === '' || s.startsWith('.') || s.includes('\\') || /[\x00-\x1f\x7f]/.test(s))) return notFound(req, res);
    if (segments[0] === 'models') {
      if (segments.length === 2 && segments[1] === 'index.json') return sendBody(req, res, 200, 'application/json', index);
      const root = mounts.get(segments[1] ?? '');
      if (root === undefined || segments.length < 3) return notFound(req, res);
      return serveFile(req, res, root, segments.slice(2));
    }
    return serveFile(req, res, appRoot, segments);
  }

  const url = await listen(server, o.port, o.host);
  let closing: Promise<void> | undefined;
  return {
    url: url.url,
    port: url.port,
    close: () => {
      closing ??= new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<{ url: string; port: number }> {
  return new Promise((resolvePromise, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      const where = `port ${port} on ${host}`;
      switch (e.code) {
        case 'EADDRINUSE': return reject(failure(`${where} is in use: pass --port`));
        case 'EACCES': return reject(failure(`${where} needs privileges this user lacks (EACCES): pass --port (1024 or above)`));
        case 'EADDRNOTAVAIL': return reject(failure(`cannot listen on ${host}: not an address of this machine (EADDRNOTAVAIL): pass --host`));
        case 'ENOTFOUND': case 'EAI_AGAIN': return reject(failure(`cannot listen on ${host}: unknown host (${e.code}): pass --host`));
        default: return reject(failure(`cannot listen on ${where}: ${errCode(e)}`));
      }
    };
    const onListening = () => {
      server.removeListener('error', onError);
      const actual = (server.address() as AddressInfo).port;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolvePromise({ url: `http://${shown}:${actual}/`, port: actual });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host });
  });
}

function sendBody(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: Buffer): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function send(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  sendBody(req, res, status, 'text/plain; charset=utf-8', Buffer.from(`${message}\n`, 'utf8'));
}

const notFound = (req: IncomingMessage, res: ServerResponse): void => send(req, res, 404, 'not found');

/** The real path of root/segments if it lies inside root (itself a real path); else undefined. */
async function confined(root: string, segments: string[]): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(join(root, ...segments));
  } catch {
    return undefined;
  }
  return isInside(real, root) && real !== root ? real : undefined;
}

/** Opens a regular file inside root, or undefined (whatever the reason: every refusal looks like a missing file). */
async function openConfined(root: string, segments: string[]): Promise<{ fh: FileHandle; size: number; path: string } | undefined> {
  const path = await confined(root, segments);
  if (path === undefined) return undefined;
  let st: Stats;
  try {
    st = await stat(path);
  } catch {
    return undefined;
  }
  // A FIFO is never opened (opening one blocks until a writer comes); nor is a device or a directory.
  if (!st.isFile()) return undefined;
  let fh: FileHandle;
  try {
    fh = await open(path, SERVE_FLAGS);
  } catch {
    return undefined;
  }
  try {
    const fst = await fh.stat();
    // Replaced between the checks and the open: refused.
    if (!fst.isFile() || fst.dev !== st.dev || fst.ino !== st.ino) throw new Error('replaced');
    // The file actually opened (a folder on the way may have been swapped for a link meanwhile) must be inside.
    let opened: string | undefined;
    try {
      opened = await readlink(`/proc/self/fd/${fh.fd}`);
    } catch {
      opened = undefined; // no /proc: the real-path check above stands
    }
    if (opened !== undefined && !isInside(opened.replace(/ \(deleted\)$/, ''), root)) throw new Error('outside');
    return { fh, size: fst.size, path };
  } catch {
    await fh.close().catch(() => {});
    return undefined;
  }
}

async function serveFile(req: IncomingMessage, res: ServerResponse, root: string, segments: string[]): Promise<void> {
  const file = await openConfined(root, segments);
  if (!file) return notFound(req, res);
  const { fh, size, path } = file;
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': contentType(path), 'Content-Length': String(size) });
  if (req.method === 'HEAD' || size === 0) {
    await fh.close().catch(() => {});
    res.end();
    return;
  }
  let sent = 0;
  // Never more than the announced size (the file may grow meanwhile); the stream closes the descriptor.
  const stream = createReadStream('', { fd: fh, start: 0, end: size - 1, autoClose: true, highWaterMark: 256 * KiB });
  stream.on('data', (chunk: Buffer | string) => { sent += chunk.length; });
  pipeline(stream, res, (err) => {
    // Cut short (the file shrank) or failed: the client must not take a short body for the whole file.
    if (err || sent !== size) res.destroy();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The command

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Where the build puts the web app: dist/web/ (this file is dist/src/cli/serve.js). */
export const APP_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export function registerServeCommand(program: Command): void {
  program.command('serve')
    .description('serve the browser app and model folders over HTTP (loopback only unless --host says otherwise)')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--model <dir>', 'also serve this model folder at /models/<folder name>/ (repeatable)', collect, [] as string[])
    .addHelpText('after', `
The demo models are served at /models/qa/, /models/sentiment/ and /models/image/; /models/index.json lists every mount.
Only GET and HEAD; no directory listings; nothing outside the app and model folders (links included) is served.
Ctrl-C stops the server.

Examples:
  $ gradlens serve
  $ gradlens serve --port 0 --model ./my-model --model ~/models/bert-squad`)
    .action(async (o: { port: string; host: string; model: string[] }) => {
      const port = portOption(o.port);
      const host = hostOption(o.host);
      const mounts = mountsFor(o.model);
      const appDir = APP_DIR;
      let index: Stats | undefined;
      try {
        index = statSync(join(appDir, 'index.html'));
      } catch {
        index = undefined;
      }
      if (!index?.isFile()) fail('the web app is not built (dist/web/index.html is missing): run npm run build');
      // The handlers go in before the line is printed: whoever reads it may signal at once.
      let stopping = false, wake: (() => void) | undefined;
      const stop = () => {
        stopping = true;
        wake?.();
      };
      for (const s of SIGNALS) process.on(s, stop);
      try {
        const server = await startServer({ port, host, appDir, mounts });
        console.log(`gradlens: serving the web app at ${server.url} (models: ${mounts.map((m) => `/models/${m.name}/`).join(', ')})`);
        if (!stopping) await new Promise<void>((done) => { wake = done; });
        await server.close();
      } finally {
        for (const s of SIGNALS) process.removeListener(s, stop);
      }
    });
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function portOption(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) fail(`--port must be an integer from 0 to 65535, got ${JSON.stringify(value.slice(0, 40))}`);
  return port;
}

function hostOption(value: string): string {
  const host = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (!/^[A-Za-z0-9.:%_-]{1,253}$/.test(host)) fail(`--host must be an IP address or a host name, got ${JSON.stringify(value.slice(0, 60))}`);
  return host;
}

/** The demo models, then each --model folder at /models/<its name>/. */
function mountsFor(dirs: string[]): Mount[] {
  const mounts: Mount[] = [{ name: 'qa', dir: DEMO_MODELS.qa }, { name: 'sentiment', dir: DEMO_MODELS.sentiment }, { name: 'image', dir: DEMO_MODELS.image }];
  for (const dir of dirs) {
    let st: Stats;
    try {
      st = statSync(dir);
    } catch (e) {
      fail(errCode(e) === 'ENOENT' ? `--model ${dir}: no such folder` : `--model ${dir}: cannot open it (${errCode(e)})`);
    }
    if (!st.isDirectory()) fail(`--model ${dir} is not a folder`);
    const name = basename(resolve(dir));
    if (!validMountName(name)) {
      fail(`--model ${dir}: the folder name ${JSON.stringify(name)} cannot be a URL segment (letters, digits, ".", "_" and "-" only, not starting with "."); rename it or link it under another name`);
    }
    const taken = mounts.find((m) => m.name === name);
    if (taken || name === 'index.json') {
      fail(`--model ${dir}: the name "${name}" is taken${taken ? ` by ${taken.dir}` : ''}; rename the folder or link it under another name`);
    }
    mounts.push({ name, dir });
  }
  return mounts;
}
