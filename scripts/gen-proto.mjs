// Regenerates the static protobufjs code for ONNX from src/onnx/proto/onnx.proto (the official schema).
// Run after updating onnx.proto: `npm run gen:proto`. The generated files are committed.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const dir = 'src/onnx/proto';
const pbjs = 'node_modules/.bin/pbjs';
const pbts = 'node_modules/.bin/pbts';
execFileSync(pbjs, ['-t', 'static-module', '-w', 'es6', '--no-verify', '--no-convert', '--no-delimited', '--force-number',
  '-o', `${dir}/onnx.js`, `${dir}/onnx.proto`], { stdio: 'inherit' });
// ESM under NodeNext needs the explicit file extension.
const js = readFileSync(`${dir}/onnx.js`, 'utf8').replace(/from "protobufjs\/minimal"/, 'from "protobufjs/minimal.js"');
writeFileSync(`${dir}/onnx.js`, js);
execFileSync(pbts, ['-o', `${dir}/onnx.d.ts`, `${dir}/onnx.js`], { stdio: 'inherit' });
