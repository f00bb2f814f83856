import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, assertOneLineError } from './run-cli.js';
import { fixture, readJson } from '../helpers.js';

const GPT2 = fixture('decoders', 'gpt2');
const LLAMA = fixture('decoders', 'llama');
const prompt = (dir: string) => readJson<{ prompt: string }>(join(dir, 'reference.json')).prompt;

test('explain generate: the JSON schema, text, HTML heatmap and SVG', async () => {
  const r = await runCli(['explain', 'generate', '--model', GPT2, '--prompt', prompt(GPT2), '--max-new-tokens', '3', '--method', 'saliency', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  for (const k of ['task', 'model', 'tokens', 'input_ids', 'prompt_length', 'generated', 'attributions', 'settings', 'warnings']) assert.ok(k in e, k);
  assert.equal(e.task, 'generate');
  assert.equal(e.generated.length, 3);
  assert.equal(e.tokens.length, e.prompt_length + 3);
  e.generated.forEach((g: { position: number; id: number; token: string }, t: number) => {
    assert.equal(g.position, e.prompt_length + t);
    assert.equal(e.input_ids[g.position], g.id);
    assert.equal(e.tokens[g.position], g.token);
  });
  e.attributions.forEach((a: Record<string, unknown> & { per_token: number[] }, t: number) => {
    for (const k of ['step', 'target', 'target_id', 'method', 'per_token', 'normalized', 'delta', 'f_x', 'f_baseline']) assert.ok(k in a, `${k} at step ${t}`);
    assert.equal(a['step'], t);
    assert.equal(a.per_token.length, e.prompt_length + t);
  });
  assert.equal(e.settings.target_fn, 'logprob');
  assert.equal(e.settings.baseline, 'eos', 'no pad token: eos');
  const text = await runCli(['explain', 'generate', '--model', LLAMA, '--prompt', prompt(LLAMA), '--max-new-tokens', '2', '--steps', '8']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^generated: ".*" \(2 tokens\)$/m);
  assert.match(text.stdout, /\[step 1\] → .*, F\(x\) [-\d.e]+, F\(baseline\) [-\d.e]+, convergence delta/);
  const html = await runCli(['explain', 'generate', '--model', GPT2, '--prompt', prompt(GPT2), '--max-new-tokens', '3', '--steps', '8', '--format', 'html']);
  assert.match(html.stdout, /<table class="heatmap">/);
  // 3 generated columns; rows = prompt + 2 generated tokens; cells exist where the row comes before the step's position.
  const cells = (html.stdout.match(/<td style="background-color/g) ?? []).length;
  const P = e.prompt_length;
  assert.equal(cells, P + (P + 1) + (P + 2));
  const svg = await runCli(['explain', 'generate', '--model', GPT2, '--prompt', prompt(GPT2), '--max-new-tokens', '2', '--method', 'saliency', '--format', 'svg']);
  assert.match(svg.stdout, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const forced = JSON.parse((await runCli(['explain', 'generate', '--model', GPT2, '--prompt', prompt(GPT2), '--target-text', ' sat on', '--method', 'saliency', '--format', 'json'])).stdout);
  assert.equal(forced.settings.forced, true);
  assert.equal(forced.text, ' sat on');
});

test('gradlens inspect on a decoder names the tensor fed to the first block', async () => {
  const r = await runCli(['inspect', LLAMA]);
  assert.match(r.stdout, /^embeddings output: \/model\/embed_tokens\/Gather_output_0$/m);
  const g = await runCli(['inspect', join(GPT2, 'onnx', 'model.onnx')]);
  assert.match(g.stdout, /^embeddings output: \/transformer\/Add_1_output_0$/m);
});

test('explain generate: bad input is one clear line', async () => {
  assertOneLineError(await runCli(['explain', 'generate', '--model', fixture('models', 'bert-ner'), '--prompt', 'hi']), /is an encoder \(model_type bert\): explain generate needs a decoder/);
  assertOneLineError(await runCli(['explain', 'generate', '--model', GPT2, '--prompt', '  ']), /the prompt is empty/);
  assertOneLineError(await runCli(['explain', 'generate', '--model', GPT2, '--prompt', 'hi', '--max-new-tokens', '0']), /--max-new-tokens must be an integer from 1 to 4096/);
  assertOneLineError(await runCli(['explain', 'generate', '--model', GPT2, '--prompt', 'hi', '--max-new-tokens', '64']), /--max-new-tokens 64 is beyond the model's 64 positions/);
  assertOneLineError(await runCli(['explain', 'generate', '--model', GPT2, '--prompt', 'hi', '--method', 'occlusion']), /explain generate runs the gradient methods/);
  assertOneLineError(await runCli(['explain', 'generate', '--model', GPT2, '--prompt', 'hi', '--baseline', 'mask']), /--baseline for generate is one of pad, eos, zero/);
  assertOneLineError(await runCli(['explain', 'generate', '--model', GPT2, '--prompt', 'hi', '--baseline', 'pad']), /the model has no pad token; use --baseline eos or zero/);
  // Without --model: the embedded demo decoder completes its synthetic facts.
  const demo = await runCli(['explain', 'generate', '--prompt', 'The capital of France is', '--method', 'saliency', '--format', 'json']);
  assert.equal(demo.code, 0, demo.stderr);
  const d = JSON.parse(demo.stdout);
  assert.equal(d.model, 'demo/generate (embedded demo model)');
  assert.match(d.text, /^ Paris/);
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-gen-'));
  cpSync(GPT2, join(dir, 'm'), { recursive: true });
  rmSync(join(dir, 'm', 'onnx'), { recursive: true });
  assertOneLineError(await runCli(['explain', 'generate', '--model', join(dir, 'm'), '--prompt', 'hi']), /has neither onnx\/decoder_model.onnx nor onnx\/model.onnx/);
  // A prompt longer than the context: the end is kept, and a warning says what was dropped.
  const long = Array(40).fill('the little cat sat').join(' ');
  const r = await runCli(['explain', 'generate', '--model', GPT2, '--prompt', long, '--max-new-tokens', '4', '--method', 'saliency', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.equal(e.tokens.length, 64);
  assert.match(e.warnings[0], /first \d+ tokens after the start were dropped \(the end of the prompt is kept\)/);
  assert.match(r.stderr, /gradlens: warning: the prompt has \d+ tokens/);
});
