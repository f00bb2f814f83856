// Child process of the model fuzz test: runs the CLI's main() on each mutated model folder it is given (in this one
// process: a crash kills it, which the parent sees) and reports one JSON line per case with the exit code and what
// the CLI wrote. (Run as a test file by the test runner's directory scan, it does nothing.)
import { createInterface } from 'node:readline';
import { main } from '../../src/cli/main.js';

if (process.env['GRADLENS_FUZZ_CHILD'] === '1') {
  const report = process.stdout.write.bind(process.stdout);
  const lines = createInterface({ input: process.stdin });
  for await (const dir of lines) {
    if (!dir) continue;
    report(`${JSON.stringify({ dir, started: true })}\n`);
    let stdout = '', stderr = '';
    process.stdout.write = ((chunk: string | Uint8Array) => { stdout += String(chunk); return true; }) as typeof process.stdout.write;
    const errWrite = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
    let code: number;
    try {
      process.exitCode = undefined;
      code = await main(['node', 'gradlens', 'explain', 'classify', '-t', 'This movie was absolutely wonderful!', '--model', dir,
        '--method', 'saliency', '--format', 'json', '--offline']);
    } finally {
      process.stdout.write = report as typeof process.stdout.write;
      process.stderr.write = errWrite;
    }
    report(`${JSON.stringify({ dir, code, stdout, stderr })}\n`);
  }
}
