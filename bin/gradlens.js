#!/usr/bin/env node
// gradlens' command-line entry point.
//
// onnxruntime-node 1.30 on Linux crashes (stack overflow, exit 139) creating its first session when the process's
// command line (/proc/self/cmdline) is longer than about 28 KB: its telemetry reads the command line and matches it
// with a recursive std::regex. A long argument (a text passed with -t) would crash gradlens. So when the command line
// is long, this process starts gradlens again with a short one and hands it the arguments through a pipe (fd 3),
// then waits for it and exits as it did.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ARGS_FD = 3;
const MAX_COMMAND_LINE = 8 * 1024;

async function run(argv) {
  const { main } = await import('../dist/src/cli/main.js');
  process.exitCode = await main(argv);
}

if (process.env.GRADLENS_ARGS_FD === String(ARGS_FD)) {
  delete process.env.GRADLENS_ARGS_FD;
  let args;
  try {
    args = JSON.parse(readFileSync(ARGS_FD, 'utf8'));
  } catch {
    args = undefined;
  }
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    console.error('gradlens: internal error: cannot read the arguments handed over by the parent process');
    process.exit(1);
  }
  await run([process.argv[0], process.argv[1], ...args]);
} else if (Buffer.byteLength(process.argv.join('\0')) > MAX_COMMAND_LINE) {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, GRADLENS_ARGS_FD: String(ARGS_FD) },
  });
  child.stdio[ARGS_FD].on('error', () => {});
  child.stdio[ARGS_FD].end(JSON.stringify(process.argv.slice(2)));
  // Ctrl-C reaches both processes (same process group): the child handles it; this one only waits. Signals sent to
  // this process alone are passed on.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (e) => {
    console.error(`gradlens: cannot start: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGKILL: 137, SIGSEGV: 139 };
      process.exit(codes[signal] ?? 1);
    }
    process.exit(code ?? 1);
  });
} else {
  await run(process.argv);
}
