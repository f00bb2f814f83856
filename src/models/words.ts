/**
 * Words from wordpieces, for word-level views and word feature masks. Which tokens continue a word follows the
 * tokenizer's convention — WordPiece marks continuations (`##…`), SentencePiece (`▁…`) and byte-level BPE (`Ġ…`) mark
 * word starts — and the offsets decide the rest: a token continues the previous one only when it comes from the
 * same text and starts exactly where that one ended (no space between). Special tokens are words of their own.
 */
import type { Encoded } from './tokenizer.js';

export type WordConvention =
  | { kind: 'continuation'; prefix: string }
  | { kind: 'start'; marker: string }
  | { kind: 'offsets' };

/** The convention of a tokenizer.json: its model's continuing-subword prefix, or its pre-tokenizer's word marker. */
export function wordConvention(tokenizerJson: unknown): WordConvention {
  const j = tokenizerJson as { model?: { type?: string; continuing_subword_prefix?: string | null }; pre_tokenizer?: unknown; decoder?: unknown };
  if (j?.model?.type === 'WordPiece') return { kind: 'continuation', prefix: j.model.continuing_subword_prefix || '##' };
  const marker = findMarker(j?.pre_tokenizer) ?? findMarker(j?.decoder);
  if (marker) return { kind: 'start', marker };
  if (j?.model?.continuing_subword_prefix) return { kind: 'continuation', prefix: j.model.continuing_subword_prefix };
  return { kind: 'offsets' };
}

function findMarker(node: unknown, depth = 0): string | undefined {
  if (!node || typeof node !== 'object' || depth > 8) return undefined;
  const n = node as { type?: string; replacement?: string; pretokenizers?: unknown[]; decoders?: unknown[] };
  if (n.type === 'ByteLevel') return 'Ġ';
  if (n.type === 'Metaspace') return typeof n.replacement === 'string' && n.replacement ? n.replacement : '▁';
  for (const child of [...(n.pretokenizers ?? []), ...(n.decoders ?? [])]) {
    const m = findMarker(child, depth + 1);
    if (m) return m;
  }
  return undefined;
}

export interface Words {
  /** Each word's text (from the input, by offsets; special tokens as themselves). */
  words: string[];
  /** For each token, its word's index. */
  wordOf: number[];
  /** Whether each word is a special token. */
  special: boolean[];
}

/** Groups the tokens of an encoding into words; `texts` are the encoded texts (the pair's second text at 1). */
export function groupWords(enc: Encoded, convention: WordConvention, texts: readonly (string | undefined)[]): Words {
  const words: string[] = [], special: boolean[] = [], wordOf: number[] = [];
  const spans: [number, number, number | null][] = [];
  enc.tokens.forEach((tok, i) => {
    const prev = i - 1;
    const span = enc.offsets[i];
    const before = enc.offsets[prev];
    const seg = enc.segment[i];
    // A bare word marker (a space token, "▁" or "Ġ") starts a word that the next pieces continue across the space.
    const bareMarker = convention.kind === 'start' && i > 0 && enc.tokens[prev] === convention.marker;
    const gap = span && before && seg != null ? texts[seg]?.slice(before[1], span[0]) : undefined;
    const adjacent = span != null && before != null && (span[0] === before[1] || (bareMarker && gap !== undefined && gap.trim() === ''));
    const continues = i > 0 && !enc.special[i] && !enc.special[prev] && seg === enc.segment[prev] && adjacent
      && (convention.kind === 'continuation' ? tok.startsWith(convention.prefix)
        : convention.kind === 'start' ? !tok.startsWith(convention.marker) : true);
    if (continues) {
      spans[spans.length - 1]![1] = span![1];
    } else {
      spans.push(span ? [span[0], span[1], enc.segment[i] ?? null] : [-1, -1, null]);
      special.push(enc.special[i]!);
      words.push(tok);
    }
    wordOf.push(spans.length - 1);
  });
  spans.forEach(([a, b, seg], w) => {
    const text = seg === null ? undefined : texts[seg];
    if (!special[w] && text !== undefined && a >= 0) words[w] = text.slice(a, b).trim() || words[w]!;
  });
  return { words, wordOf, special };
}

/** Per-token values summed into words. */
export function sumByWord(values: readonly number[], wordOf: readonly number[], count: number): number[] {
  const out = new Array<number>(count).fill(0);
  values.forEach((v, i) => (out[wordOf[i]!]! += v));
  return out;
}
