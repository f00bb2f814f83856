import type { Command } from 'commander';
import { readModelFile, writeModelFile } from '../io/model-file.js';
import { vjpModel, gradName, cotangentName } from '../autodiff/vjp.js';
import { summarize, formatSummary } from './inspect.js';
import { escapeControls } from '../viz/escape.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

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
  $ gradlens inspect model.onnx   # lists tensors, ops and which ops lack gradient rules`)
    .action((modelPath: string, opts: { of: string[]; wrt: string[]; out: string }) => {
      const model = readModelFile(modelPath);
      const grad = vjpModel(model, { of: opts.of, wrt: opts.wrt });
      writeModelFile(opts.out, grad);
      console.log(`wrote ${opts.out}`);
      console.log(`  new inputs:  ${[...opts.wrt, ...opts.of.map(cotangentName)].join(', ')}`);
      console.log(`  new outputs: ${opts.wrt.map(gradName).join(', ')}`);
      console.log(`  nodes: ${model.graph?.node?.length ?? 0} → ${grad.graph?.node?.length ?? 0}`);
    });

  program
    .command('inspect')
    .description('print opset, inputs and outputs with shapes, an op histogram, and ops without gradient rules')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Example:
  $ gradlens inspect onnx/model.onnx`)
    .action((modelPath: string, opts: { json?: boolean }) => {
      const summary = summarize(readModelFile(modelPath));
      console.log(opts.json ? JSON.stringify(summary, null, 2) : formatSummary(summary).split('\n').map(escapeControls).join('\n'));
    });
}
