// Copies the non-TypeScript sources that the compiled code loads at run time into dist/.
import { cpSync, mkdirSync } from 'node:fs';

mkdirSync('dist/src/onnx/proto', { recursive: true });
for (const f of ['onnx.js', 'onnx.d.ts']) cpSync(`src/onnx/proto/${f}`, `dist/src/onnx/proto/${f}`);
