import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { GradlensError } from '../errors.js';
import { escapeControls } from '../viz/escape.js';
import { registerGradCommands } from './grad-commands.js';
import { registerExplainCommands } from './explain-commands.js';
import { registerDenseCommands } from './explain-dense.js';
import { registerBatchCommand } from './batch.js';
import { registerServeCommand } from './serve.js';
import { registerEvaluateCommands } from './evaluate.js';
import { registerQueueCommands } from './queue.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('gradlens')
    .description('Explain transformer models exported to ONNX: gradients by reverse-mode autodiff on the ONNX graph, Integrated Gradients and friends.')
    .version(pkg.version, '-V, --version')
    .option('--debug', 'show stack traces on errors')
    .exitOverride();
  // Choices and defaults as values (pad, 50), not quoted strings ("pad", "50").
  program.configureHelp({
    optionDescription: (option) => {
      const extra: string[] = [];
      if (option.argChoices) extra.push(`one of: ${option.argChoices.join(', ')}`);
      if (option.defaultValue !== undefined && option.defaultValue !== false) extra.push(`default: ${option.defaultValueDescription ?? String(option.defaultValue)}`);
      return extra.length ? `${option.description} (${extra.join('; ')})` : option.description;
    },
  });
  program.configureOutput({ outputError: (str, write) => write(`gradlens: ${str.replace(/^error: /, '').trimEnd()} (see --help)\n`) });
  registerDenseCommands(registerExplainCommands(program));
  registerBatchCommand(program);
  registerEvaluateCommands(program);
  registerQueueCommands(program);
  registerServeCommand(program);
  registerGradCommands(program);
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput(program.configureOutput());
    cmd.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/** Runs the CLI; returns the exit code. User errors print one line on stderr, never a stack trace (unless --debug). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
    // Commands that finish with a status of their own (an interrupted batch: 130/143) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its message.
      return e.exitCode;
    }
    if (debug) console.error(e);
    // One line, whatever the message quotes (labels, tensor names, file names): control characters are escaped.
    else if (e instanceof GradlensError) console.error(`gradlens: ${escapeControls(e.message)}`);
    else console.error(`gradlens: internal error: ${escapeControls(String((e as Error)?.message ?? e))} (run with --debug for details)`);
    return 1;
  }
}
