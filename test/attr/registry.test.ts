import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, METHOD_TABLE, METHODS, OPTIONS, methodsUsing, parseSettings } from '../../src/attr/registry.js';
import { GradlensError } from '../../src/errors.js';
import { buildProgram } from '../../src/cli/main.js';

// One table of methods and options: the CLI's choices, help and defaults are derived from it.
test('the CLI offers exactly the registry\'s methods and options, with the registry\'s defaults', () => {
  const qa = buildProgram().commands.find((c) => c.name() === 'explain')!.commands.find((c) => c.name() === 'qa')!;
  const method = qa.options.find((o) => o.long === '--method')!;
  assert.deepEqual(method.argChoices, [...METHODS]);
  assert.equal(method.defaultValue, DEFAULT_SETTINGS.method);
  for (const o of OPTIONS) {
    const cli = qa.options.find((x) => x.long === o.flag);
    assert.ok(cli, `${o.flag} is an option`);
    // Defaults are applied by parseSettings (a method may have its own) and stated in the help.
    assert.equal(cli.defaultValue, undefined);
    assert.ok(cli.description.includes(`(default: ${o.default}`), cli.description);
    if (o.choices) assert.deepEqual(cli.argChoices, [...o.choices]);
    // The help says which methods read it.
    assert.ok(cli.description.includes(`[${methodsUsing(o.key).join(', ')}]`), cli.description);
  }
  const batch = buildProgram().commands.find((c) => c.name() === 'batch')!;
  assert.deepEqual(batch.options.find((o) => o.long === '--method')!.argChoices, [...METHODS]);
});

test('every method names options that exist; the defaults parse from the table', () => {
  const keys = OPTIONS.map((o) => o.key);
  for (const m of METHOD_TABLE) for (const k of m.options) assert.ok(keys.includes(k), `${m.name}: ${k}`);
  assert.deepEqual(parseSettings({}), DEFAULT_SETTINGS);
  assert.equal(DEFAULT_SETTINGS.steps, 50);
  assert.equal(DEFAULT_SETTINGS.integration, 'gausslegendre');
  // Captum's own defaults per method: NoiseTunnel / GradientShap 5 samples, ShapleyValueSampling / KernelShap / Lime 25.
  for (const [method, samples] of [['smoothgrad', 5], ['gradient-shap', 5], ['shapley', 25], ['kernel-shap', 25], ['lime', 25]] as const) {
    assert.equal(parseSettings({ method }).samples, samples, method);
  }
  assert.equal(parseSettings({ method: 'lime', samples: '7' }).samples, 7);
});

test('settings as users give them (CLI, URL parameters) are parsed and checked in one place', () => {
  const s = parseSettings({ method: 'smoothgrad', samples: '7', stdevs: '0.5', seed: '3', steps: 'auto' });
  assert.equal(s.method, 'smoothgrad');
  assert.equal(s.samples, 7);
  assert.equal(s.stdevs, 0.5);
  assert.equal(s.seed, 3);
  assert.equal(s.steps, 'auto');
  const bad: [Record<string, string>, RegExp][] = [
    [{ method: 'occlusionx' }, /unknown method "occlusionx"; expected one of: layer-ig/],
    [{ steps: '1e3' }, /--steps must be an integer from 1 to 10000 or "auto"/],
    [{ integration: 'simpson' }, /unknown integration method/],
    [{ baseline: 'cls' }, /unknown baseline "cls"/],
    [{ stdevs: 'NaN' }, /--stdevs must be a number/],
    [{ samples: '0' }, /--samples must be an integer from 1/],
    [{ internalBatchSize: '-1' }, /--internal-batch-size must be an integer/],
  ];
  for (const [values, pattern] of bad) assert.throws(() => parseSettings(values), (e: unknown) => e instanceof GradlensError && pattern.test(e.message), JSON.stringify(values));
});
