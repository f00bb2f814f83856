// Seeded fuzz: byte-flipped copies of the demo sentiment model each end in a result or a one-line error within a
// time limit, never a crash, a hang or an internal error. Each case runs the CLI's main() in a child process (a crash
// kills the child, which the parent sees). Nine in ten flips land in the protobuf structure (tags, op types,
// attributes, shapes, types, tensor headers), not in the weights, where they would only change numbers, nor in value
// names, where they would only break references between names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, rng } from '../helpers.js';

const CASES = 200;
const WORKERS = 2;
const CASE_TIMEOUT_MS = 30_000;
const CHILD = fileURLToPath(new URL('./fuzz-child.js', import.meta.url));

/**
 * Byte ranges a structural fuzzer skips, found by walking the wire format: raw tensor data
 * (graph.initializer[].raw_data) and value names (node inputs/outputs/names, value_info and initializer names),
 * where flips only break references between names.
 */
export function skippedRanges(bytes: Uint8Array): [number, number][] {
  const ranges: [number, number][] = [];
  const varint = (pos: number): [number, number] => {
    let v = 0, mul = 1, p = pos;
    for (;;) {
      const b = bytes[p++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return [v, p];
      mul *= 128;
    }
  };
  // Walks the fields of a message in [start, end); `onField(field, bodyStart, bodyEnd)` for length-delimited ones.
  const walk = (start: number, end: number, onField: (field: number, s: number, e: number) => void) => {
    let p = start;
    while (p < end) {
      const [key, q] = varint(p);
      const field = Math.floor(key / 8), wire = key & 7;
      if (wire === 0) p = varint(q)[1];
      else if (wire === 1) p = q + 8;
      else if (wire === 5) p = q + 4;
      else if (wire === 2) {
        const [len, s] = varint(q);
        onField(field, s, s + len);
        p = s + len;
      } else return;
    }
  };
  const skip = (s: number, e: number) => ranges.push([s, e]);
  walk(0, bytes.length, (f, s, e) => {
    if (f !== 7) return; // ModelProto.graph
    walk(s, e, (g, gs, ge) => {
      if (g === 1) walk(gs, ge, (n, ns, ne) => { if (n === 1 || n === 2 || n === 3) skip(ns, ne); }); // NodeProto input, output, name
      if (g === 5) walk(gs, ge, (t, ts, te) => { if (t === 9 || t === 8) skip(ts, te); }); // TensorProto raw_data, name
      if (g === 11 || g === 12 || g === 13) walk(gs, ge, (v, vs, ve) => { if (v === 1) skip(vs, ve); }); // ValueInfoProto name
    });
  });
  return ranges.sort((a, b) => a[0] - b[0]);
}

test(`fuzz: ${CASES} byte-flipped copies of the demo model end in a result or a one-line error, never a crash or hang`, { timeout: 15 * 60_000 }, async () => {
  const src = join(ROOT, 'demo', 'sentiment');
  const original = readFileSync(join(src, 'onnx', 'model.onnx'));
  const raw = skippedRanges(original);
  const structure: number[] = []; // positions outside the weights
  let prev = 0;
  for (const [s, e] of [...raw, [original.length, original.length] as [number, number]]) {
    for (let i = prev; i < s; i++) structure.push(i);
    prev = e;
  }
  assert.ok(raw.length > 100 && structure.length > 1000, `found ${raw.length} skipped ranges and ${structure.length} structure bytes`);
  const root = mkdtempSync(join(tmpdir(), 'gradlens-fuzz-'));
  const r = rng(20261201);
  const dirs: string[] = [];
  for (let c = 0; c < CASES; c++) {
    const bytes = Buffer.from(original);
    const flips = 1 + Math.floor(r.uniform() * 4);
    for (let k = 0; k < flips; k++) {
      // Nine in ten flips hit the structure; the rest anywhere.
      const pos = r.uniform() < 0.9 ? structure[Math.floor(r.uniform() * structure.length)]! : Math.floor(r.uniform() * bytes.length);
      bytes[pos] = r.uniform() < 0.5 ? bytes[pos]! ^ (1 << Math.floor(r.uniform() * 8)) : Math.floor(r.uniform() * 256);
    }
    const dir = join(root, `case-${c}`);
    cpSync(src, dir, { recursive: true });
    writeFileSync(join(dir, 'onnx', 'model.onnx'), bytes);
    dirs.push(dir);
  }
  const outcomes = new Map<string, Record<string, unknown>>();
  const failures: string[] = [];
  const runWorker = (share: string[]) => new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [CHILD], { env: { ...process.env, GRADLENS_FUZZ_CHILD: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let current: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    let buffer = '', stderr = '';
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { failures.push(`${current}: no outcome within ${CASE_TIMEOUT_MS} ms (hang)`); child.kill('SIGKILL'); }, CASE_TIMEOUT_MS);
    };
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        if (msg['started']) { current = msg['dir'] as string; arm(); continue; }
        outcomes.set(msg['dir'] as string, msg);
        current = undefined;
        clearTimeout(timer);
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (current !== undefined && !failures.some((f) => f.startsWith(current!))) failures.push(`${current}: the process died (exit ${code}, signal ${signal}) ${stderr.slice(-300)}`);
      // Cases after a crash are not run: the crash already fails the test.
      resolve();
    });
    child.stdin.end(share.map((d) => `${d}\n`).join(''));
  });
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(dirs.filter((_, i) => i % WORKERS === w))));
  let results = 0, errors = 0;
  for (const dir of dirs) {
    const o = outcomes.get(dir) as { code: number; stdout: string; stderr: string } | undefined;
    if (!o) continue;
    const lines = o.stderr.split('\n').filter(Boolean);
    if (o.code === 0) {
      let ok = false;
      try { ok = Array.isArray(JSON.parse(o.stdout).attributions); } catch { ok = false; }
      if (ok) results++;
      else failures.push(`${dir}: exit 0 without a JSON result: ${o.stdout.slice(0, 200)}`);
    } else if (o.code === 1 && lines.length === 1 && lines[0]!.startsWith('gradlens: ') && !/internal error/.test(lines[0]!)) errors++;
    else failures.push(`${dir}: exit ${o.code}, stderr ${JSON.stringify(o.stderr.slice(0, 400))}`);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${CASES} cases failed:\n${failures.join('\n')}`);
  assert.equal(results + errors, CASES);
  console.log(`# fuzz: ${results} results, ${errors} one-line errors, 0 crashes, 0 hangs, 0 internal errors`);
  const messages = new Map<string, number>();
  for (const o of outcomes.values()) if (o['code'] === 1) { const m = String(o['stderr']).replace(/["“][^"”]*["”]/g, '…').slice(0, 70); messages.set(m, (messages.get(m) ?? 0) + 1); }
  if (process.env['GRADLENS_FUZZ_VERBOSE']) for (const [m, n] of messages) console.log(`#   ${n} × ${m}`);
});
