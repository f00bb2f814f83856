import type { Command } from 'commander';
import { readModelFile, writeModelFile } from '../io/model-file.js';
import { vjpModel } from '../autodiff/vjp.js';
import type { ModelProto } from '../onnx/proto.js';
import { registerInspectCommand } from './inspect.js';
import { escapeControls } from '../viz/escape.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

/** The graph inputs a caller feeds (initializers listed as inputs are not fed). */
function inputNames(model: ModelProto): string[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? []).map((v) => v.name ?? '').filter((n) => !inits.has(n));
}

const outputNames = (model: ModelProto): string[] => (model.graph?.output ?? []).map((v) => v.name ?? '');

const list = (names: string[]) => (names.length ? names.join(', ') : 'none');

/** What `gradlens grad` reports: the written model's own inputs and outputs, and how they differ from the original's. */
export function describeGradModel(original: ModelProto, grad: ModelProto): string[] {
  const before = inputNames(original), after = inputNames(grad);
  const beforeOut = outputNames(original), afterOut = outputNames(grad);
  const kept = before.filter((n) => after.includes(n));
  const removed = before.filter((n) => !after.includes(n));
  return [
    `  inputs:  ${list(after)}`,
    `    new:     ${list(after.filter((n) => !before.includes(n)))}`,
    `    kept:    ${list(kept)}`,
    ...(removed.length ? [`    removed: ${list(removed)} (only needed to compute the --wrt tensors, which are inputs now)`] : []),
    `  outputs: ${list(afterOut)}`,
    `    new:     ${list(afterOut.filter((n) => !beforeOut.includes(n)))}`,
    `  nodes: ${original.graph?.node?.length ?? 0} → ${grad.graph?.node?.length ?? 0}`,
  ].map(escapeControls);
}

export function registerGradCommands(program: Command): void {
  program
    .command('grad')
    .description('write a gradient model: inputs gain each --wrt tensor and <of>_cotangent, outputs gain <wrt>_grad')
    .argument('<model>', 'ONNX model file (fp32)')
    .requiredOption('--of <output...>', 'output(s) to differentiate (repeat or comma-separate)', collect)
    .requiredOption('--wrt <tensor...>', 'float tensor(s) to differentiate with respect to', collect)
    .option('-o, --out <file>', 'where to write the gradient model', 'grad.onnx')
    .addHelpText('after', `
Examples:
  $ gradlens grad model.onnx --of start_logits --of end_logits --wrt /bert/embeddings/LayerNorm/Add_1_output_0 -o grad.onnx
  $ gradlens inspect model.onnx --tensors   # the tensors --of and --wrt can name, and ops without gradient rules`)
    .action((modelPath: string, opts: { of: string[]; wrt: string[]; out: string }) => {
      const model = readModelFile(modelPath);
      // vjpModel reads the model without changing it: the original's inputs and outputs are compared below.
      const grad = vjpModel(model, { of: opts.of, wrt: opts.wrt });
      writeModelFile(opts.out, grad);
      console.log(escapeControls(`wrote ${opts.out}`));
      for (const line of describeGradModel(model, grad)) console.log(line);
    });

  registerInspectCommand(program);
}
