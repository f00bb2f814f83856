/**
 * File access for model folders, which come from strangers: every file is hostile input.
 *
 * - A file is read only if it is a regular file (after following links) of bounded size: the size is checked before
 *   reading, the file is opened non-blocking (a FIFO or device swapped in after the check does not block) and
 *   checked again on the open descriptor, and never more than the checked size is read.
 * - Names inside a model folder (external-data locations, the folder's own files) must stay inside it: absolute
 *   names are refused, and the real path (links resolved) must lie under the folder's real path.
 * - Errors name what was asked for, never the size or existence of anything outside the folder.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fail } from '../errors.js';
import { formatBytes } from '../units.js';
import { LIMITS } from './limits.js';
import { checkSize } from './source.js';

export { formatBytes };

export { LIMITS };

/** Read-only, non-blocking (a FIFO swapped in never blocks the open), never a controlling terminal. */
export const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

export const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens a regular file of at most `maxBytes` bytes for reading: the size is checked before opening, the file is
 * opened non-blocking and checked again on the descriptor (it may have been replaced in between). The caller closes
 * the descriptor and reads at most `size` bytes. `what` names the file in errors.
 */
export function openRegularFile(path: string, maxBytes: number, what = path, range?: { offset: number; length: number }): { fd: number; size: number } {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    if (errCode(e) === 'ENOENT') fail(`${what}: no such file`);
    fail(`cannot read ${what}: ${errCode(e)}`);
  }
  checkRegular(st, what, maxBytes, range);
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    fail(`cannot read ${what}: ${errCode(e)}`);
  }
  try {
    const fst = fstatSync(fd);
    checkRegular(fst, what, maxBytes, range);
    return { fd, size: fst.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Reads a whole regular file of at most `maxBytes` bytes (see openRegularFile). With `offset`/`length`, reads that
 * range only (which must lie inside the file).
 */
export function readRegularFile(path: string, maxBytes: number, what = path, range?: { offset: number; length: number }): Buffer {
  const { fd, size } = openRegularFile(path, maxBytes, what, range);
  try {
    const offset = range?.offset ?? 0;
    const length = range?.length ?? size;
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(fd, buf, done, length - done, offset + done);
      } catch (e) {
        fail(`cannot read ${what}: ${errCode(e)}`);
      }
      if (n === 0) fail(`${what} was cut short while being read (${done} of ${length} bytes)`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * The lines of the first `size` bytes of `fd`, split on 0x0A bytes (so a multi-byte character across a read
 * boundary stays whole), without the "\n" (and a "\r" before it). `end` is the offset after the line's "\n".
 * A final line without "\n" is yielded only with `last` (an input's last line; for an output it is a torn write).
 * A line longer than `maxLine` bytes is refused. Each yielded buffer is valid until the next step.
 */
export function* byteLines(fd: number, size: number, options: { last?: boolean; maxLine?: number; what?: string } = {}): Generator<{ bytes: Buffer; end: number }> {
  const { last = false, maxLine = Infinity, what = 'the file' } = options;
  const chunk = Buffer.alloc(1 << 20);
  let pending: Buffer[] = [], pendingBytes = 0;
  let offset = 0;
  let lineNo = 0;
  const line = (piece: Buffer): Buffer => {
    lineNo++;
    const whole = pending.length ? Buffer.concat([...pending, piece]) : piece;
    pending = [];
    pendingBytes = 0;
    return whole.length > 0 && whole[whole.length - 1] === 13 ? whole.subarray(0, whole.length - 1) : whole;
  };
  while (offset < size) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, Math.min(chunk.length, size - offset), offset);
    } catch (e) {
      fail(`cannot read ${what}: ${errCode(e)}`);
    }
    if (n <= 0) break;
    const view = chunk.subarray(0, n);
    let from = 0, nl: number;
    while ((nl = view.indexOf(10, from)) !== -1) {
      if (pendingBytes + nl - from > maxLine) fail(`line ${lineNo + 1} of ${what} is longer than ${formatBytes(maxLine)}`);
      const bytes = line(view.subarray(from, nl));
      from = nl + 1;
      yield { bytes, end: offset + from };
    }
    if (from < n) {
      pendingBytes += n - from;
      if (pendingBytes > maxLine) fail(`line ${lineNo + 1} of ${what} is longer than ${formatBytes(maxLine)}`);
      pending.push(Buffer.from(view.subarray(from)));
    }
    offset += n;
  }
  if (last && pending.length) yield { bytes: line(Buffer.alloc(0)), end: offset };
}

function checkRegular(st: Stats, what: string, maxBytes: number, range?: { offset: number; length: number }): void {
  if (!st.isFile()) fail(`${what} is ${kindOf(st)}, not a regular file`);
  checkSize(st.size, maxBytes, what, range);
}

export function readTextFile(path: string, maxBytes: number, what = path): string {
  return readRegularFile(path, maxBytes, what).toString('utf8');
}

/**
 * A folder whose files are read by name, confined to a root: every name must resolve (links included) to a path
 * under the root's real path. `base` is where relative names start (the root, or a folder inside it: the Hub cache's
 * snapshot folder, whose files link into the repository's blobs/).
 */
export class ConfinedFolder {
  readonly root: string;
  readonly base: string;
  private readonly realRoot: string;

  constructor(root: string, base = root, readonly label = base) {
    this.root = resolve(root);
    this.base = resolve(base);
    try {
      this.realRoot = realpathSync(this.root);
    } catch (e) {
      fail(errCode(e) === 'ENOENT' ? `model folder not found: ${label}` : `cannot open the model folder ${label}: ${errCode(e)}`);
    }
    let st: Stats;
    try {
      st = statSync(this.realRoot);
    } catch (e) {
      fail(`cannot open the model folder ${label}: ${errCode(e)}`);
    }
    if (!st.isDirectory()) fail(`${label} is not a folder`);
    if (!isInside(this.base, this.root)) fail(`${label} is outside ${this.root}`);
  }

  /** The real path of `name`, refused when it is absolute or resolves outside the folder; undefined if missing. */
  resolveName(name: string, what = name): string | undefined {
    const path = this.lexical(name, what);
    let real: string;
    try {
      real = realpathSync(path);
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // A dangling link out of the folder gets the same answer as a link to an existing file out of it.
        if (this.linksOut(path)) fail(`${what} in ${this.label} links to a place outside the model folder; gradlens reads only files inside it`);
        return undefined;
      }
      // A link loop (ELOOP) or an unreadable folder on the way: nothing to read.
      fail(`${what} in ${this.label} cannot be opened (${code})`);
    }
    if (!isInside(real, this.realRoot)) fail(`${what} in ${this.label} links to a place outside the model folder; gradlens reads only files inside it`);
    return real;
  }

  /** Whether a chain of links starting at `path` leaves the folder (followed by name only, for dangling links). */
  private linksOut(path: string): boolean {
    let cur = path;
    for (let hop = 0; hop < 40; hop++) {
      let target: string;
      try {
        if (!lstatSync(cur).isSymbolicLink()) return false;
        target = resolve(dirname(cur), readlinkSync(cur));
      } catch {
        return false;
      }
      if (!isInside(target, this.root) && !isInside(target, this.realRoot)) return true;
      cur = target;
    }
    return true;
  }

  /** Whether `name` exists (without following a final link out of the folder: that is refused on reading). */
  has(name: string): boolean {
    try {
      lstatSync(this.lexical(name, name));
      return true;
    } catch {
      return false;
    }
  }

  /** The path `name` stands for, before links are resolved; refused when it climbs out of the folder. */
  private lexical(name: string, what: string): string {
    if (name.includes('\0')) fail(`${what}: a file name with a NUL character`);
    if (isAbsolute(name) || /^[A-Za-z]:[\\/]/.test(name)) fail(`${what} is an absolute path; gradlens reads only files inside the model folder`);
    const path = resolve(this.base, name);
    if (!isInside(path, this.root)) fail(`${what} is outside the model folder; gradlens reads only files inside it`);
    return path;
  }

  read(name: string, maxBytes: number, what = name, range?: { offset: number; length: number }): Buffer {
    const real = this.resolveName(name, what);
    if (real === undefined) fail(`${what}: no such file in ${this.label}`);
    return readRegularFile(real, maxBytes, `${what} in ${this.label}`, range);
  }
}

/** Whether `path` is `dir` or lies under it (both absolute, normalised). */
export function isInside(path: string, dir: string): boolean {
  if (path === dir) return true;
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}
