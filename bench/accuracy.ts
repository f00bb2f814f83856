// npm run bench accuracy: Integrated Gradients compared at equal accuracy. For each model case, the model evaluations
// (gradient rows per example = integration points) and wall time each fixed integration rule needs to reach
// |delta| ≤ 1% of |F(x) − F(baseline)| for every target, against steps 'auto' (adaptive Gauss–Legendre 4, 8, 16, …
// until 1%, at most 256), and what Captum's default (Gauss–Legendre, 50 steps) gives.
//
// Search per fixed rule: n = 2, 4, 8, … up to the case's cap until every target is within 1%; then bisection between
// the last failing and the first passing n (it assumes the error falls with n; every reported n was run and passed).
// It need not: the error can oscillate with n, so the n found is then checked at 2n, 4n, … (up to the cap; once for
// the BERT-base case) and failures there are reported; and where it is cheap every n from 2 to the n found − 1 is run
// too (does a smaller n pass by chance?). Evaluations are read from the runner's gradient-row counter
// around one call (a QA explanation's start and end share each row). Wall time is one explainQa/explainClassify call
// with warm sessions (the median of 5 when a call takes under 2 s), prediction included; model loading and session
// creation are left out (a warm-up call runs first).
import { loadModel, DEMO_MODELS } from '../src/io/folder.js';
import { explainQa } from '../src/tasks/qa.js';
import { explainClassify } from '../src/tasks/classify.js';
import { DEFAULT_SETTINGS, type ExplainSettings } from '../src/attr/registry.js';
import type { IntegrationMethod } from '../src/attr/quadrature.js';
import type { LoadedModel } from '../src/models/load.js';
import type { Explanation } from '../src/tasks/common.js';
import { cliModelFolder } from './attr.js';
import { now } from './common.js';

const TOLERANCE = 0.01;
const RULES: IntegrationMethod[] = ['gausslegendre', 'riemann_left', 'riemann_right', 'riemann_middle', 'riemann_trapezoid', 'trapezoid'];
const WALKTHROUGH = { question: 'What is important to us?', context: 'It is important to us to include, empower and support humans of all kinds.' };

interface Case {
  name: string;
  dir: () => string;
  explain: (model: LoadedModel, settings: ExplainSettings) => Promise<Explanation>;
  /** Largest n of the doubling search. */
  cap: number;
  /** A rule is not tried further once one of its runs took longer than this. */
  stopAfterMs: number;
  /** Bisection stops when the bracket [fail, pass] is at most this fraction of the passing n wide (0: exact). */
  bracket: number;
  /** How many doublings of the n found (2n, 4n, … up to the cap) are checked to pass too. */
  verify: number;
  /** Every n from 2 to the n found − 1 is also run when that costs at most this many integration points in all. */
  scanBudget: number;
}

const qa = (input: { question: string; context: string }) => (m: LoadedModel, s: ExplainSettings) => explainQa(m, input, s);

const CASES: Case[] = [
  { name: 'demo QA (demo/qa, walkthrough input)', dir: () => DEMO_MODELS.qa, explain: qa(WALKTHROUGH), cap: 1024, stopAfterMs: 60_000, bracket: 0, verify: Infinity, scanBudget: Infinity },
  {
    name: 'demo sentiment (demo/sentiment, "This movie was absolutely wonderful!")', dir: () => DEMO_MODELS.sentiment,
    explain: (m, s) => explainClassify(m, { text: 'This movie was absolutely wonderful!' }, s), cap: 1024, stopAfterMs: 60_000, bracket: 0, verify: Infinity, scanBudget: Infinity,
  },
  {
    name: 'fixture roberta-qa (test/fixtures/models/roberta-qa)', dir: () => 'test/fixtures/models/roberta-qa',
    explain: qa({ question: 'Who founded the company?', context: 'The company was founded by Ada in London.' }), cap: 1024, stopAfterMs: 60_000, bracket: 0, verify: Infinity, scanBudget: Infinity,
  },
  { name: 'BERT-base size (bench/models/bert-base-qa-folder, walkthrough input)', dir: cliModelFolder, explain: qa(WALKTHROUGH), cap: 256, stopAfterMs: 60_000, bracket: 1 / 8, verify: 1, scanBudget: 300 },
];

interface Run { steps: number; evaluations: number; ms: number; rel: number[]; ok: boolean; targets: string[] }

async function measure(model: LoadedModel, c: Case, steps: number | 'auto', integration: IntegrationMethod): Promise<Run> {
  const once = async () => {
    const rows = model.runner.counters.gradientRows;
    const t = now();
    const r = await c.explain(model, { ...DEFAULT_SETTINGS, steps, integration });
    const ms = now() - t;
    const rel = r.attributions.map((a) => Math.abs(a.delta!) / Math.abs(a.f_x! - a.f_baseline!));
    return {
      steps: Math.max(...r.attributions.map((a) => a.n_steps ?? 0)), evaluations: model.runner.counters.gradientRows - rows, ms, rel,
      ok: rel.every((x) => x <= TOLERANCE), targets: r.attributions.map((a) => a.target),
    };
  };
  const first = await once();
  if (first.ms >= 2000) return first;
  const times = [first.ms];
  for (let i = 0; i < 4; i++) times.push((await once()).ms);
  times.sort((a, b) => a - b);
  return { ...first, ms: times[2]! };
}

interface RuleResult { rule: string; pass?: Run; lastFail?: Run; note?: string; later: Run[]; scan?: { steps: number; ok: boolean }[] }

async function searchRule(model: LoadedModel, c: Case, rule: IntegrationMethod): Promise<RuleResult> {
  let lastFail: Run | undefined;
  let pass: Run | undefined;
  let note: string | undefined;
  for (let n = 2; n <= c.cap; n *= 2) {
    const r = await measure(model, c, n, rule);
    if (r.ok) {
      pass = r;
      break;
    }
    lastFail = r;
    if (r.ms > c.stopAfterMs && n * 2 <= c.cap) {
      note = `stopped: ${n} steps took ${(r.ms / 1000).toFixed(1)} s`;
      break;
    }
  }
  if (!pass) return { rule, lastFail, note: note ?? `not reached by ${c.cap}`, later: [] };
  // Bisection between the last failing and the first passing n.
  let lo = lastFail?.steps ?? 1;
  while (pass.steps - lo > Math.max(1, c.bracket * pass.steps)) {
    const mid = Math.floor((lo + pass.steps) / 2);
    if (mid < 2) break;
    const r = await measure(model, c, mid, rule);
    if (r.ok) pass = r;
    else [lo, lastFail] = [mid, r];
  }
  // Does the error stay within 1% at larger n? (Not always: it can oscillate with n.)
  const later: Run[] = [];
  for (let n = pass.steps * 2, k = 0; n <= c.cap && k < c.verify; n *= 2, k++) {
    const r = await measure(model, c, n, rule);
    later.push(r);
    if (r.ms > c.stopAfterMs) break;
  }
  // Every smaller n (accuracy only, one run each): is there a smaller n that passes by chance?
  const points = (pass.steps * (pass.steps - 1)) / 2 - 1;
  if (points > c.scanBudget) return { rule, pass, lastFail, later };
  const scan: { steps: number; ok: boolean }[] = [];
  for (let n = 2; n < pass.steps; n++) {
    const r = await c.explain(model, { ...DEFAULT_SETTINGS, steps: n, integration: rule });
    scan.push({ steps: n, ok: r.attributions.every((a) => Math.abs(a.delta!) <= TOLERANCE * Math.abs(a.f_x! - a.f_baseline!)) });
  }
  return { rule, pass, lastFail, later, scan };
}

const pct = (x: number) => `${(x * 100).toFixed(x * 100 < 0.1 ? 3 : 2)}%`;
const rels = (r: Run) => r.rel.map(pct).join(' / ');
function laterText(r: RuleResult): string {
  if (r.later.length === 0) return '—';
  const bad = r.later.filter((l) => !l.ok);
  return bad.length === 0 ? `pass (to ${r.later[r.later.length - 1]!.steps})` : `FAIL at ${bad.map((l) => `${l.steps} (${rels(l)})`).join(', ')}`;
}
function scanText(r: RuleResult): string {
  if (!r.scan) return 'not run';
  if (r.scan.length === 0) return '—';
  const first = r.scan.find((x) => x.ok);
  if (!first) return 'all fail';
  const above = r.scan.filter((x) => x.steps > first.steps);
  return `first pass at ${first.steps}; ${above.filter((x) => !x.ok).length} of ${above.length} n above it fail`;
}
const secs = (ms: number) => (ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);

interface Row { rule: string; 'steps needed': string; evaluations: string; 'wall time': string; 'rel |delta|': string; 'largest failing n': string; 'at 2n, 4n, …': string; 'scan of 2…n−1': string }

function markdown(rows: Row[]): string {
  const keys = Object.keys(rows[0]!) as (keyof Row)[];
  const cell = (x: string) => x.replace(/\|/g, '\\|');
  return [`| ${keys.map(cell).join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${keys.map((k) => cell(r[k])).join(' | ')} |`)].join('\n');
}

async function runCase(c: Case): Promise<{ rows: Row[]; summary: string }> {
  const model = await loadModel(c.dir());
  await measure(model, c, 8, 'gausslegendre'); // warm-up: sessions are built here, not in the measured calls
  const results: RuleResult[] = [];
  for (const rule of RULES) {
    const t = now();
    const r = await searchRule(model, c, rule);
    console.log(`accuracy: ${c.name}: ${rule}: ${r.pass ? `${r.pass.steps} steps` : r.note} (search ${((now() - t) / 1000).toFixed(1)} s)`);
    results.push(r);
  }
  const auto = await measure(model, c, 'auto', 'gausslegendre');
  const captum = await measure(model, c, 50, 'gausslegendre');
  await model.runner.release();
  const targets = auto.targets.join(' / ');
  const rows: Row[] = results.map((r) => r.pass
    ? {
      rule: r.rule, 'steps needed': String(r.pass.steps), evaluations: String(r.pass.evaluations), 'wall time': secs(r.pass.ms),
      'rel |delta|': rels(r.pass), 'largest failing n': r.lastFail ? `${r.lastFail.steps} (${rels(r.lastFail)})` : '—', 'at 2n, 4n, …': laterText(r), 'scan of 2…n−1': scanText(r),
    }
    : {
      rule: r.rule, 'steps needed': r.note!, evaluations: `${r.lastFail!.evaluations} at n = ${r.lastFail!.steps}`, 'wall time': secs(r.lastFail!.ms),
      'rel |delta|': rels(r.lastFail!), 'largest failing n': String(r.lastFail!.steps), 'at 2n, 4n, …': '—', 'scan of 2…n−1': '—',
    });
  rows.push({
    rule: "auto (Gauss–Legendre 4, 8, 16, …, ≤ 256)", 'steps needed': auto.ok ? `${auto.steps} (last pass)` : `not reached by ${auto.steps}`,
    evaluations: String(auto.evaluations), 'wall time': secs(auto.ms), 'rel |delta|': rels(auto), 'largest failing n': !auto.ok ? String(auto.steps) : auto.steps > 4 ? String(auto.steps / 2) : '—', 'at 2n, 4n, …': '—', 'scan of 2…n−1': '—',
  });
  rows.push({
    rule: "Captum's default (gausslegendre, 50)", 'steps needed': captum.ok ? '50 (within 1%)' : '50 (not within 1%)',
    evaluations: String(captum.evaluations), 'wall time': secs(captum.ms), 'rel |delta|': rels(captum), 'largest failing n': '—', 'at 2n, 4n, …': '—', 'scan of 2…n−1': '—',
  });
  console.log(`\n${c.name} — targets ${targets}; rel |delta| = |delta| / |F(x) − F(baseline)| per target; 1% for all targets`);
  console.table(rows);
  const gl = results[0]!;
  const passed = results.filter((r) => r.pass).sort((a, b) => a.pass!.evaluations - b.pass!.evaluations);
  const glText = gl.pass ? `fixed Gauss–Legendre needs ${gl.pass.evaluations} (${gl.pass.steps} steps, ${secs(gl.pass.ms)})` : `fixed Gauss–Legendre does not reach it by ${c.cap}`;
  const passes = Array.from({ length: Math.log2(auto.steps / 4) + 1 }, (_, i) => 4 << i).join(' + ');
  const verdict = !auto.ok || !gl.pass ? '' : auto.evaluations < gl.pass.evaluations ? ' — auto is cheaper'
    : auto.evaluations === gl.pass.evaluations ? ' — the same'
    : auto.steps === 4 ? ` — auto is not better here: its first pass is already 4 steps`
    : ` — auto is not better here: it spends ${passes} = ${auto.evaluations} rows, against a fixed n found only by this search`;
  const lucky = results.filter((r) => r.scan?.some((x) => x.ok)).map((r) => {
    const first = r.scan!.find((x) => x.ok)!.steps;
    const above = r.scan!.filter((x) => x.steps > first);
    return `${r.rule} passes already at ${first} but fails again at ${above.filter((x) => !x.ok).length} of the ${above.length} n from ${first + 1} to ${r.pass!.steps - 1}`;
  });
  const unstable = results.filter((r) => r.later.some((l) => !l.ok))
    .map((r) => `${r.rule} passes at ${r.pass!.steps} but fails at ${r.later.filter((l) => !l.ok).map((l) => `${l.steps} (${rels(l)})`).join(', ')}`);
  const best = passed[0] ? `; the cheapest fixed rule is ${passed[0].rule} at ${passed[0].pass!.evaluations}` : '; no fixed rule reaches it';
  const unreached = results.filter((r) => !r.pass).map((r) => `${r.rule} (${r.note})`);
  const summary = `${c.name}: ${auto.ok ? `auto reaches 1% in ${auto.evaluations} evaluations (last pass ${auto.steps} steps, ${secs(auto.ms)})` : `auto does not reach 1% by ${auto.steps} steps (${auto.evaluations} evaluations)`}` +
    ` where ${glText}${verdict}${best}${unreached.length ? `; not reached: ${unreached.join(', ')}` : ''}` +
    `${unstable.length || lucky.length ? `; the error is not monotone in n: ${[...unstable, ...lucky].join('; ')}` : ''}` +
    ` (Captum's default of 50 gives ${captum.rel.map(pct).join(' / ')}${captum.rel.length > 1 ? ` for ${targets}` : ''}).`;
  console.log(summary);
  return { rows, summary };
}

/** `which`: comma-separated case numbers (1-based), default all. */
export async function benchAccuracy(which?: string): Promise<void> {
  const picked = which ? which.split(',').map((s) => CASES[Number(s) - 1] ?? (() => { throw new Error(`no accuracy case ${s}`); })()) : CASES;
  const t = now();
  const out: { name: string; rows: Row[]; summary: string }[] = [];
  for (const c of picked) out.push({ name: c.name, ...(await runCase(c)) });
  console.log(`\naccuracy: done in ${((now() - t) / 1000).toFixed(1)} s\n\n--- markdown ---`);
  for (const o of out) console.log(`\n### ${o.name}\n\n${markdown(o.rows)}\n\n${o.summary}`);
}
