// What the faithfulness metrics need from a task: the encoding an explanation is of, and, for each predicted class,
// its probability on a token sequence with some tokens deleted (positions close up).
import { fail } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import type { Encoded } from '../models/tokenizer.js';
import type { TargetSpec } from '../attr/targets.js';
import type { HostTensor } from '../runtime/session.js';
import { feedsFor, defaultChunk } from './attribute.js';
import { classLogits, row, sigmoid, softmax, type Explanation, type TaskName } from './common.js';
import { contextWindows, DOC_STRIDE } from './qa.js';
import type { TaskInput } from './index.js';

/** A sequence with tokens deleted: the encoding, and which original positions it keeps (in order). */
export interface Variant { enc: Encoded; kept: number[] }

export interface ProbeClass {
  /** What the class is, for the report: "label positive", "start token 13 (\"to\")". */
  name: string;
  /** Which of the explanation's attributions explains it. */
  attribution: number;
  /** The target the attribution explains (for infidelity and sensitivity). */
  target: TargetSpec;
  /** p(class) for each variant. */
  probability(variants: Variant[]): Promise<number[]>;
}

export interface Probe { enc: Encoded; texts: (string | undefined)[]; classes: ProbeClass[] }

/** The encoding with the given positions deleted (special tokens are never deleted). */
export function deleteTokens(enc: Encoded, drop: ReadonlySet<number>): Variant {
  const kept = enc.ids.flatMap((_, i) => (drop.has(i) && !enc.special[i] ? [] : [i]));
  const pick = <T>(xs: T[]) => kept.map((i) => xs[i]!);
  return {
    kept,
    enc: {
      ids: pick(enc.ids), tokens: pick(enc.tokens), typeIds: pick(enc.typeIds), attentionMask: pick(enc.attentionMask),
      special: pick(enc.special), segment: pick(enc.segment), offsets: pick(enc.offsets), truncatedTokens: 0,
    },
  };
}

/** Runs the variants in batches of about 1,536 tokens; `read` gets each batch's outputs and the variants' rows. */
async function forwardAll<T>(model: LoadedModel, variants: Variant[], read: (out: Record<string, HostTensor>, row: number, v: Variant) => T): Promise<T[]> {
  const out: T[] = [];
  const longest = Math.max(1, ...variants.map((v) => v.enc.ids.length));
  const chunk = defaultChunk(longest);
  for (let start = 0; start < variants.length; start += chunk) {
    const batch = variants.slice(start, start + chunk);
    const res = await model.runner.forward(feedsFor(model, batch.map((v) => v.enc)));
    batch.forEach((v, r) => out.push(read(res, r, v)));
  }
  return out;
}

function sameIds(enc: Encoded, e: Explanation): void {
  if (enc.ids.length !== e.input_ids.length || enc.ids.some((id, i) => id !== e.input_ids[i])) {
    fail('the explanation is not of this input (its input_ids differ from the encoding)');
  }
}

/** The probe of one explained input; `e` is an explanation of it (any method: they share the prediction). */
export async function probeFor(task: TaskName, model: LoadedModel, input: TaskInput, e: Explanation): Promise<Probe> {
  const tok = model.tokenizer;
  switch (task) {
    case 'classify': {
      const text = input.text ?? '';
      const enc = tok.encode(text, input.pair, { maxLength: model.maxLength, truncation: 'longest_first' });
      sameIds(enc, e);
      const out = classLogits(model, 'classify');
      const p = e.prediction as { index: number; label: string; multi_label: boolean };
      return {
        enc, texts: [text, input.pair],
        classes: [{
          name: `label ${p.label}`, attribution: 0, target: { output: out, target: p.index },
          probability: (vs) => forwardAll(model, vs, (res, r) => {
            const logits = row(res[out]!, r);
            return p.multi_label ? sigmoid(logits[p.index]!) : softmax(logits)[p.index]!;
          }),
        }],
      };
    }
    case 'zero-shot': {
      const text = input.text ?? '';
      const template = input.template ?? 'This example is {}.';
      const p = e.prediction as { label: string; hypothesis: string };
      const a = e.attributions[0]!;
      const entail = a.index ?? fail('the zero-shot explanation names no entailment index');
      const enc = tok.encode(text, p.hypothesis, { maxLength: model.maxLength, truncation: 'only_first' });
      sameIds(enc, e);
      const out = classLogits(model, 'zero-shot');
      const candidates = (input.labels ?? []).map((l) => l.trim()).filter(Boolean);
      const others = candidates.filter((c) => c.toLowerCase() !== a.target.toLowerCase());
      const otherLogits = await forwardAll(model, others.map((c) => ({ enc: tok.encode(text, template.replace('{}', c), { maxLength: model.maxLength, truncation: 'only_first' }), kept: [] })),
        (res, r) => row(res[out]!, r)[entail]!);
      return {
        enc, texts: [text, p.hypothesis],
        classes: [{
          name: `label ${a.target}`, attribution: 0, target: { output: out, target: entail },
          // The candidates' entailment logits share one softmax; only the explained pair is perturbed.
          probability: (vs) => forwardAll(model, vs, (res, r) => softmax([row(res[out]!, r)[entail]!, ...otherLogits])[0]!),
        }],
      };
    }
    case 'tokens': {
      const text = input.text ?? '';
      const enc = tok.encode(text, undefined, { maxLength: model.maxLength });
      sameIds(enc, e);
      const a = e.attributions[0]!;
      const pos = a.position ?? fail('the token explanation names no position');
      const label = a.index ?? fail('the token explanation names no label');
      const out = model.outputNames[0]!;
      return {
        enc, texts: [text],
        classes: [{
          name: `token ${pos} (${JSON.stringify(enc.tokens[pos])}) label ${label}`, attribution: 0, target: { output: out, target: [pos, label] },
          // The explained token is followed through deletions; deleting it leaves its class probability 0.
          probability: (vs) => forwardAll(model, vs, (res, r, v) => {
            const at = v.kept.indexOf(pos);
            if (at < 0) return 0;
            const t = res[out]!;
            const [, seq, n] = t.dims as [number, number, number];
            const off = (r * seq + at) * n;
            return softmax(Array.from(t.data.subarray(off, off + n) as Float32Array, Number))[label]!;
          }),
        }],
      };
    }
    case 'qa': {
      const question = input.question ?? '', context = input.context ?? '';
      const full = tok.encode(question, context, { maxLength: Number.MAX_SAFE_INTEGER });
      const { windows } = contextWindows(full, model.maxLength, input.docStride ?? DOC_STRIDE);
      const enc = windows[e.window?.index ?? 0]!;
      sameIds(enc, e);
      const p = e.prediction as { start: number; end: number };
      const names = ['start', 'end'].map((w) => model.outputNames.find((n) => n.includes(w)) ?? fail(`the model has no ${w}_logits output`));
      return {
        enc, texts: [question, context],
        classes: (['start', 'end'] as const).map((which, k) => {
          const pos = which === 'start' ? p.start : p.end;
          return {
            name: `${which} token ${pos} (${JSON.stringify(enc.tokens[pos])})`, attribution: k, target: { output: names[k]!, target: pos },
            // Softmax over all positions of the variant; the predicted token is followed, 0 once deleted.
            probability: (vs: Variant[]) => forwardAll(model, vs, (res, r, v) => {
              const at = v.kept.indexOf(pos);
              return at < 0 ? 0 : softmax(row(res[names[k]!]!, r).slice(0, v.enc.ids.length))[at]!;
            }),
          };
        }),
      };
    }
  }
}
