// Model folders on disk (Node): a ModelSource over a confined folder, Hub ids through the local cache, the demos.
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfinedFolder } from './files.js';
import { hubRepoRoot, looksLikeHubId, resolveHubModel, type HubOptions } from './hub-cache.js';
import type { ByteRange, ModelSource } from './source.js';
import { loadModelFromSource, type LoadedModel, type LoadOptions } from '../models/load.js';
import { loadDecoderFromSource, type DecoderModel } from '../models/decoder.js';
import type { SessionOptions } from '../runtime/session.js';

/**
 * A model folder on disk: every name stays inside the folder (links resolved), only regular files of bounded size
 * are read (io/files.ts).
 */
export class FolderSource implements ModelSource {
  readonly folder: ConfinedFolder;
  constructor(root: string, base = root, label = base) {
    this.folder = new ConfinedFolder(root, base, label);
  }
  get label(): string {
    return this.folder.label;
  }
  async has(name: string): Promise<boolean> {
    return this.folder.has(name);
  }
  async read(name: string, maxBytes: number, what = name, range?: ByteRange): Promise<Uint8Array> {
    return this.folder.read(name, maxBytes, what, range);
  }
  async list(dir: string): Promise<string[] | undefined> {
    const real = this.folder.resolveName(dir);
    if (real === undefined) return undefined;
    try {
      return readdirSync(real);
    } catch {
      return undefined;
    }
  }
}

/** A model folder path or a Hugging Face Hub id (the local cache, downloaded into it unless offline). */
export async function openModelFolder(spec: string, options: HubOptions = {}): Promise<FolderSource> {
  const dir = looksLikeHubId(spec) ? await resolveHubModel(spec, options) : resolve(spec);
  // For a Hub cache snapshot, reads stay inside the repository's cache folder, where its links point.
  return new FolderSource(hubRepoRoot(dir) ?? dir, dir, spec);
}

/** Loads a model folder (path or Hub id) or any model source. */
export async function loadModel(spec: string | ModelSource, options: LoadOptions & HubOptions = {}): Promise<LoadedModel> {
  const source = typeof spec === 'string' ? await openModelFolder(spec, options) : spec;
  return loadModelFromSource(source, options);
}

/** A decoder LM folder (models/decoder.ts), confined like every model folder. */
export async function loadDecoder(spec: string, options: HubOptions & { layer?: string; session?: SessionOptions } = {}): Promise<DecoderModel> {
  return loadDecoderFromSource(await openModelFolder(spec, options), options);
}

/** The embedded demo models, shipped with the package (demo-sized, trained on synthetic templates). */
export const DEMO_MODELS = {
  qa: fileURLToPath(new URL('../../../demo/qa', import.meta.url)),
  sentiment: fileURLToPath(new URL('../../../demo/sentiment', import.meta.url)),
  generate: fileURLToPath(new URL('../../../demo/generate', import.meta.url)),
  image: fileURLToPath(new URL('../../../demo/image', import.meta.url)),
} as const;
