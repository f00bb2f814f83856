// gradlens for Node: the core, ONNX Runtime for Node, and model folders on disk (paths and Hub ids).
export * from './core.js';
export { readModelFile, writeModelFile } from './io/model-file.js';
export { loadModel, loadDecoder, openModelFolder, FolderSource, DEMO_MODELS } from './io/folder.js';
export { nodeBackend } from './runtime/node.js';
