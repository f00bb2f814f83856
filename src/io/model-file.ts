// ONNX files on disk (Node): read with external data confined to the model's folder, and written.
import { writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ConfinedFolder, readRegularFile } from './files.js';
import { LIMITS } from './limits.js';
import { decodeModel, encodeModel, externalData, setInline } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';

export interface ReadModelOptions {
  /**
   * The folder external data must stay inside (default: the model file's folder). The folder loader passes the model
   * folder (or, for the Hub cache, the repository's cache folder, whose snapshot files link into its blobs/).
   */
  root?: string;
}

/**
 * Reads a model file; tensors stored as external data (`model.onnx_data`) are loaded inline. The file must be a
 * regular file of at most 2 GiB, and so must the model once its external data is inlined (ONNX Runtime reads the
 * model from one protobuf message).
 */
export function readModelFile(path: string, options: ReadModelOptions = {}): ModelProto {
  const abs = resolve(path);
  const base = dirname(abs);
  let bytes: Uint8Array;
  let folder: ConfinedFolder;
  if (options.root !== undefined) {
    folder = new ConfinedFolder(options.root, base);
    bytes = folder.read(basename(abs), LIMITS.model, basename(abs));
  } else {
    // A path the user named: it may be a link; its external data stays in its folder.
    if (!existsSync(abs)) fail(`model file not found: ${path}`);
    bytes = readRegularFile(abs, LIMITS.model, path);
    folder = new ConfinedFolder(base);
  }
  const model = decodeModel(bytes, path);
  inlineExternalData(model, folder, bytes.length);
  return model;
}

export function writeModelFile(path: string, model: ModelProto): void {
  try {
    writeFileSync(path, encodeModel(model));
  } catch (e) {
    fail(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Moves every external tensor's bytes into rawData so the model is self-contained in memory (onnx/model.ts
 * externalData: subgraphs and sparse tensors included, ranges checked). Locations are resolved in `folder` (relative
 * to the model file's folder, never the current directory) and must stay inside it, links included.
 */
export function inlineExternalData(model: ModelProto, folder: ConfinedFolder | string, modelBytes = 0): void {
  const dir = typeof folder === 'string' ? new ConfinedFolder(folder) : folder;
  for (const entry of externalData(model, modelBytes)) {
    setInline(entry, dir.read(entry.location, LIMITS.model, entry.what, { offset: entry.offset, length: entry.length }));
  }
}
