import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';
import { readTextFile } from './files.js';

/** The files of a transformers.js-style model folder that gradlens reads. */
export const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'] as const;
const OPTIONAL_FILES = ['onnx/model.onnx_data'];

export interface HubOptions {
  /** Never touch the network: use the cache or fail (also HF_HUB_OFFLINE=1). */
  offline?: boolean;
  cacheDir?: string;
  revision?: string;
}

/** The Hugging Face hub cache folder, as the Python and JS clients use it. */
export function hubCacheDir(): string {
  return process.env['HF_HUB_CACHE'] ?? join(process.env['HF_HOME'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface'), 'hub');
}

export const looksLikeHubId = (s: string): boolean => /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(s) && !existsSync(s);

/** The cached snapshot folder of a Hub model, if every needed file is there. */
export function cachedSnapshot(repo: string, cacheDir = hubCacheDir(), revision = 'main'): string | undefined {
  const root = join(cacheDir, `models--${repo.replace(/\//g, '--')}`);
  const ref = join(root, 'refs', revision);
  const commit = existsSync(ref) ? readTextFile(ref, 1024, `the Hub cache's ref ${revision} of ${repo}`).trim() : revision;
  // The ref names a folder of snapshots/: a commit hash or a revision name, never a path.
  if (!/^[\w.-]{1,128}$/.test(commit) || commit === '.' || commit === '..') fail(`the Hub cache's ref ${revision} of ${repo} is not a commit id`);
  const snapshot = join(root, 'snapshots', commit);
  return MODEL_FILES.every((f) => existsSync(join(snapshot, f)) && statSync(join(snapshot, f)).size > 0) ? snapshot : undefined;
}

/**
 * For a Hub cache snapshot folder (…/models--org--name/snapshots/<commit>), the repository's cache folder: its files
 * are links into the repository's blobs/, which is where reads must stay. Undefined for any other folder.
 */
export function hubRepoRoot(dir: string): string | undefined {
  const snapshot = resolve(dir);
  const snapshots = dirname(snapshot);
  const root = dirname(snapshots);
  return basename(snapshots) === 'snapshots' && /^models--[^/]+--[^/]+$/.test(basename(root)) ? root : undefined;
}

/** A local folder for a Hub model id: the cache when it has the files, else a download (unless offline). */
export async function resolveHubModel(repo: string, options: HubOptions = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const revision = options.revision ?? 'main';
  const cached = cachedSnapshot(repo, cacheDir, revision);
  if (cached) return cached;
  const offline = options.offline || ['1', 'true', 'yes'].includes((process.env['HF_HUB_OFFLINE'] ?? '').toLowerCase());
  if (offline) fail(`model ${repo} is not in the cache (${cacheDir}) and offline mode is on: download it once online, or pass a local folder`);
  const hub = await import('@huggingface/hub');
  const accessToken = process.env['HF_TOKEN'];
  let snapshot = '';
  for (const path of [...MODEL_FILES, ...OPTIONAL_FILES]) {
    try {
      const file = await hub.downloadFileToCacheDir({ repo, path, revision, cacheDir, ...(accessToken ? { accessToken } : {}) });
      snapshot = file.slice(0, file.length - path.length - 1);
    } catch (e) {
      if (OPTIONAL_FILES.includes(path)) continue;
      const msg = (e as Error).message.split('\n')[0];
      fail(`cannot download ${path} of ${repo} from the Hugging Face Hub: ${msg}${path === 'onnx/model.onnx' ? ' (gradlens needs the fp32 onnx/model.onnx of a transformers.js-style repo)' : ''}`);
    }
  }
  return snapshot;
}
