// Starts `gradlens serve --port 0` in a child process for browser tests; resolves with its URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from '../cli/run-cli.js';
import { ROOT } from '../helpers.js';

export async function startServe(args: string[] = []): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gradlens serve did not start: ${stderr}`)), 15000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving the web app at (http:\/\/\S+?\/) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`gradlens serve exited ${code}: ${stderr}`)));
  });
  return {
    url,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    }),
  };
}

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
