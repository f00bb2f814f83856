/**
 * Model sources: where a model folder's files come from (a folder on disk, files picked or dropped in a page, a URL,
 * the Hugging Face Hub). The loaders read through this interface only, so the same code runs in Node and in a
 * browser. Every file is hostile input: names are confined to the folder, sizes are bounded before reading.
 * This module is part of the isomorphic core (no node: imports); the disk folder lives in io/folder.ts.
 */
import { fail } from '../errors.js';
import { formatBytes } from '../units.js';

export interface ByteRange { offset: number; length: number }

export interface ModelSource {
  /** Names the source in messages (a folder path, a URL, "the picked folder"). */
  readonly label: string;
  /** Whether the folder has this file ('/'-separated, relative to the folder). */
  has(name: string): Promise<boolean>;
  /**
   * The file's bytes: at most `maxBytes` (a larger file is refused before it is read), or only `range`, which must
   * lie inside the file. `what` names the file in errors.
   */
  read(name: string, maxBytes: number, what?: string, range?: ByteRange): Promise<Uint8Array>;
  /** The file names directly inside a sub-folder, when the source can list (disk, picked files); else undefined. */
  list?(dir: string): Promise<string[] | undefined>;
}

/**
 * A relative name normalised inside the folder: '/'-separated, no empty, '.' or '..' segments left, never absolute.
 * `base` is the folder the name is relative to (external data is relative to the model file's folder).
 */
export function confinedName(name: string, base = '', what = name): string {
  if (typeof name !== 'string' || name.includes('\0')) fail(`${what}: a file name with a NUL character`);
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(name) || /^[a-z][a-z0-9+.-]*:/i.test(name)) {
    fail(`${what} is an absolute path; gradlens reads only files inside the model folder`);
  }
  const parts: string[] = base ? base.split('/').filter((p) => p && p !== '.') : [];
  for (const seg of name.split(/[\\/]/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) fail(`${what} is outside the model folder; gradlens reads only files inside it`);
      parts.pop();
    } else parts.push(seg);
  }
  if (parts.length === 0) fail(`${what}: not a file name`);
  return parts.join('/');
}

/** A file of `size` bytes read whole (at most `maxBytes`) or by `range` (inside the file, at most `maxBytes`). */
export function checkSize(size: number, maxBytes: number, what: string, range?: ByteRange): void {
  if (range) {
    if (range.offset + range.length > size) fail(`${what}: the range (offset ${range.offset}, length ${range.length}) runs past the end of the file`);
    if (range.length > maxBytes) fail(`${what}: ${formatBytes(range.length)} is more than gradlens reads (${formatBytes(maxBytes)})`);
  } else if (size > maxBytes) fail(`${what} is ${formatBytes(size)}, more than gradlens reads for it (${formatBytes(maxBytes)})`);
}

/** The names directly inside `dir` among a source's '/'-separated file names. */
function namesIn(names: Iterable<string>, dir: string): string[] {
  const prefix = `${confinedName(dir)}/`;
  return [...names].filter((n) => n.startsWith(prefix) && !n.slice(prefix.length).includes('/')).map((n) => n.slice(prefix.length));
}

/** Files held in memory (tests, and bytes a page already has), by relative name. */
export class MemorySource implements ModelSource {
  private readonly files = new Map<string, Uint8Array>();
  constructor(files: Record<string, Uint8Array | string>, readonly label = 'the model files') {
    for (const [name, bytes] of Object.entries(files)) this.files.set(confinedName(name), typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  }
  async has(name: string): Promise<boolean> {
    return this.files.has(confinedName(name));
  }
  async read(name: string, maxBytes: number, what = name, range?: ByteRange): Promise<Uint8Array> {
    const bytes = this.files.get(confinedName(name, '', what)) ?? fail(`${what}: no such file in ${this.label}`);
    checkSize(bytes.length, maxBytes, `${what} in ${this.label}`, range);
    return range ? bytes.subarray(range.offset, range.offset + range.length) : bytes;
  }
  async list(dir: string): Promise<string[]> {
    return namesIn(this.files.keys(), dir);
  }
}

/** A Blob-like file (the browser's File; Node's Blob). */
export interface BlobLike { readonly size: number; slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> } }

/**
 * Files the user picked or dropped in a page, by their path relative to the model folder. `pickedFolder` builds one
 * from a directory input's or a drop's paths, which start with the picked folder's own name.
 */
export class BlobSource implements ModelSource {
  private readonly files = new Map<string, BlobLike>();
  constructor(files: Iterable<[string, BlobLike]>, readonly label = 'the picked folder') {
    for (const [path, blob] of files) {
      try {
        this.files.set(confinedName(path), blob);
      } catch {
        // A name that cannot be a file of the folder is not offered.
      }
    }
  }

  /**
   * Paths as a directory picker gives them ("my-model/onnx/model.onnx"): the picked folder's name is dropped when
   * every path starts with it and the folder's own files are not at the top already.
   */
  static pickedFolder(files: Iterable<[string, BlobLike]>, label?: string): BlobSource {
    const entries = [...files].map(([path, blob]) => [path.replace(/\\/g, '/').replace(/^\/+/, ''), blob] as [string, BlobLike]);
    const first = entries[0]?.[0].split('/')[0];
    const top = entries.some(([p]) => !p.includes('/'));
    const shared = first !== undefined && !top && entries.every(([p]) => p.split('/')[0] === first);
    return new BlobSource(shared ? entries.map(([p, b]) => [p.slice(first!.length + 1), b]) : entries, label ?? (shared ? `the picked folder ${first}` : undefined));
  }

  async has(name: string): Promise<boolean> {
    return this.files.has(confinedName(name));
  }
  async read(name: string, maxBytes: number, what = name, range?: ByteRange): Promise<Uint8Array> {
    const blob = this.files.get(confinedName(name, '', what)) ?? fail(`${what}: no such file in ${this.label}`);
    checkSize(blob.size, maxBytes, `${what} in ${this.label}`, range);
    const start = range?.offset ?? 0;
    const end = range ? range.offset + range.length : blob.size;
    try {
      return new Uint8Array(await blob.slice(start, end).arrayBuffer());
    } catch (e) {
      fail(`cannot read ${what} from ${this.label}: ${(e as Error).message}`);
    }
  }
  async list(dir: string): Promise<string[]> {
    return namesIn(this.files.keys(), dir);
  }
}

type FetchLike = (url: string, init?: { method?: string; headers?: Record<string, string>; signal?: AbortSignal }) => Promise<{
  ok: boolean; status: number; headers: { get(name: string): string | null }; body?: unknown; arrayBuffer(): Promise<ArrayBuffer>;
}>;

/**
 * A folder served over HTTP(S) (`gradlens serve`'s /models/…/, any static host, the Hub's resolve URLs). Names stay
 * inside the base URL; sizes are checked from Content-Length before the body is read, and a body longer than
 * announced is cut off at the limit.
 */
export class UrlSource implements ModelSource {
  readonly label: string;
  private readonly base: string;
  private readonly fetch: FetchLike;
  constructor(base: string, options: { label?: string; fetch?: FetchLike; headers?: Record<string, string> } = {}) {
    let url: URL;
    try {
      url = new URL(base, (globalThis as { location?: { href: string } }).location?.href);
    } catch {
      fail(`${base} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${base}: only http and https model URLs are read`);
    this.base = url.href.endsWith('/') ? url.href : `${url.href}/`;
    this.label = options.label ?? base;
    this.fetch = options.fetch ?? ((u, init) => (globalThis.fetch as unknown as FetchLike)(u, init));
    this.headers = options.headers ?? {};
  }
  private readonly headers: Record<string, string>;

  private url(name: string): string {
    return this.base + confinedName(name).split('/').map(encodeURIComponent).join('/');
  }

  private async request(name: string, what: string, method: string, range?: ByteRange) {
    const headers = { ...this.headers, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) };
    try {
      return await this.fetch(this.url(name), { method, headers });
    } catch (e) {
      fail(`cannot fetch ${what} from ${this.label}: ${(e as Error).message}`);
    }
  }

  async has(name: string): Promise<boolean> {
    const res = await this.request(name, name, 'HEAD');
    return res.ok;
  }

  async read(name: string, maxBytes: number, what = name, range?: ByteRange): Promise<Uint8Array> {
    const res = await this.request(name, what, 'GET', range);
    if (res.status === 404) fail(`${what}: no such file in ${this.label}`);
    what = `${what} in ${this.label}`;
    if (!res.ok) fail(`cannot fetch ${what} from ${this.label}: HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    const partial = res.status === 206;
    if (range && !partial) {
      // The server ignored the Range header: read the whole file (bounded) and cut the range out of it.
      const all = await readBody(res, maxBytes + range.offset, what, declared);
      checkSize(all.length, maxBytes, what, range);
      return all.subarray(range.offset, range.offset + range.length);
    }
    if (Number.isFinite(declared)) checkSize(declared, maxBytes, what);
    const bytes = await readBody(res, maxBytes, what, declared);
    if (range && bytes.length !== range.length) fail(`${what}: the range (offset ${range.offset}, length ${range.length}) runs past the end of the file`);
    return bytes;
  }
}

/** Reads a fetch body, refusing it as soon as it exceeds `maxBytes`. */
async function readBody(res: { body?: unknown; arrayBuffer(): Promise<ArrayBuffer> }, maxBytes: number, what: string, declared: number): Promise<Uint8Array> {
  const body = res.body as { getReader?: () => { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> } } | undefined;
  if (!body?.getReader) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    checkSize(bytes.length, maxBytes, what);
    return bytes;
  }
  const reader = body.getReader();
  const size = Number.isFinite(declared) && declared <= maxBytes ? declared : 0;
  let out = new Uint8Array(size || 1 << 16);
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value!.length > maxBytes) {
      await reader.cancel().catch(() => undefined);
      fail(`${what} is more than gradlens reads for it (${formatBytes(maxBytes)})`);
    }
    if (n + value!.length > out.length) {
      const grown = new Uint8Array(Math.min(maxBytes, Math.max(out.length * 2, n + value!.length)));
      grown.set(out.subarray(0, n));
      out = grown;
    }
    out.set(value!, n);
    n += value!.length;
  }
  return out.length === n ? out : out.slice(0, n);
}

/**
 * A model on the Hugging Face Hub through @huggingface/hub (which works in browsers and in Node): existence by
 * fileExists, bytes by downloadFile, whose Blob reads lazily, so sizes are checked before anything is downloaded
 * and external-data ranges are fetched alone.
 */
export class HubSource implements ModelSource {
  readonly label: string;
  constructor(readonly repo: string, private readonly options: { revision?: string; accessToken?: string; hubUrl?: string; fetch?: typeof fetch } = {}) {
    if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repo) || repo.includes('..')) fail(`"${repo}" is not a Hub model id (owner/name)`);
    this.label = repo;
  }
  private params(name: string) {
    return { repo: this.repo, path: confinedName(name), ...this.options };
  }
  async has(name: string): Promise<boolean> {
    const hub = await import('@huggingface/hub');
    try {
      return await hub.fileExists(this.params(name));
    } catch (e) {
      fail(`cannot reach the Hugging Face Hub for ${this.repo}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  async read(name: string, maxBytes: number, what = name, range?: ByteRange): Promise<Uint8Array> {
    const hub = await import('@huggingface/hub');
    let blob: BlobLike | null;
    try {
      blob = await hub.downloadFile(this.params(name));
    } catch (e) {
      fail(`cannot download ${what} of ${this.repo} from the Hugging Face Hub: ${(e as Error).message.split('\n')[0]}`);
    }
    if (!blob) fail(`${what}: no such file in ${this.repo} on the Hugging Face Hub`);
    return new BlobSource([[name, blob]], this.repo).read(name, maxBytes, what, range);
  }
}

/** A JSON object from a source; bad JSON or a non-object is one clear error. */
export async function readJsonFrom(source: ModelSource, name: string, maxBytes: number): Promise<Record<string, unknown>> {
  const what = `${name} of ${source.label}`;
  return parseJsonObject(new TextDecoder().decode(await source.read(name, maxBytes, name)), what);
}

/** Parses JSON text that must be an object; bad JSON or a non-object is one clear error naming `what`. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail(`${what} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}
