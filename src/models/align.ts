/**
 * Character offsets of tokens in the original text. @huggingface/tokenizers gives tokens without offsets, so each
 * token's surface form is located in the text, in order, after folding both sides the same way (compatibility
 * decomposition, no combining marks, lower case, no whitespace). Tokens that cannot be located ([UNK], byte
 * fragments) get the text between their located neighbours.
 */
export type Span = [start: number, end: number];

/** Folded characters of `text`, each with the index of the original character it came from. */
function fold(text: string): { chars: string[]; source: number[] } {
  const chars: string[] = [];
  const source: number[] = [];
  let i = 0;
  for (const ch of text) {
    for (const c of foldChar(ch)) {
      chars.push(c);
      source.push(i);
    }
    i += ch.length;
  }
  return { chars, source };
}

function foldChar(ch: string): string[] {
  if (/\s/u.test(ch) || /\p{Cc}|\p{Cf}/u.test(ch) || ch === '\ufffd') return [];
  return [...ch.normalize('NFKD').replace(/\p{Mn}/gu, '').toLowerCase()];
}

/** The surface text of a token: subword markers removed, byte-level characters mapped back. */
export function tokenSurface(token: string): string {
  let t = token;
  if (t.startsWith('##')) t = t.slice(2);
  t = t.replace(/^[\u0120\u2581]/u, '').replace(/\u0120/gu, ' ').replace(/\u2581/gu, ' ');
  return decodeByteLevel(t);
}

let byteDecoder: Map<string, number> | undefined;
/** GPT-2 byte-level alphabet → bytes → UTF-8 text (RoBERTa-style BPE), when the token is in that alphabet. */
function decodeByteLevel(t: string): string {
  if (!byteDecoder) {
    byteDecoder = new Map();
    const bs: number[] = [];
    for (let b = 33; b <= 126; b++) bs.push(b);
    for (let b = 161; b <= 172; b++) bs.push(b);
    for (let b = 174; b <= 255; b++) bs.push(b);
    const cs = [...bs];
    let n = 0;
    for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
    bs.forEach((b, i) => byteDecoder!.set(String.fromCharCode(cs[i]!), b));
  }
  const chars = [...t];
  if (!chars.every((c) => byteDecoder!.has(c))) return t;
  // Only a valid UTF-8 byte sequence counts as byte-level text (a WordPiece "é" is not).
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(chars, (c) => byteDecoder!.get(c)!));
  } catch {
    return t;
  }
}

/** Offsets (into `text`) for each token, or null for tokens with no text (none here; specials are handled by the caller). */
export function alignTokens(text: string, tokens: readonly string[]): (Span | null)[] {
  const { chars, source } = fold(text);
  const spans: (Span | null)[] = [];
  let cursor = 0;
  for (const token of tokens) {
    const want = [...tokenSurface(token)].flatMap(foldChar);
    let at = want.length === 0 ? -1 : findFrom(chars, want, cursor);
    // An unknown token matches only where the text spells it out next ("[UNK]" typed in the text).
    if ((token === '[UNK]' || token === '<unk>') && at !== cursor) at = -1;
    if (at < 0) {
      spans.push(null);
      continue;
    }
    const lastSource = source[at + want.length - 1]!;
    spans.push([source[at]!, lastSource + charLength(text, lastSource)]);
    cursor = at + want.length;
  }
  // Runs of unlocated tokens share the gap between their located neighbours: one word each when the gap has as
  // many words (split at whitespace, punctuation and CJK characters, as BERT pre-tokenizes), else the whole gap.
  for (let k = 0; k < spans.length; k++) {
    if (spans[k]) continue;
    let next = k;
    while (next < spans.length && !spans[next]) next++;
    const prevEnd = k > 0 ? spans[k - 1]![1] : 0;
    const nextStart = next < spans.length ? spans[next]![0] : text.length;
    const words = wordsIn(text, prevEnd, nextStart);
    for (let j = k; j < next; j++) {
      if (words.length === next - k) spans[j] = words[j - k]!;
      else spans[j] = words.length > 0 ? [words[0]![0], words[words.length - 1]![1]] : [prevEnd, prevEnd];
    }
    k = next;
  }
  return spans;
}

const isSplitChar = (ch: string): boolean => /\p{P}/u.test(ch) || /[\u4e00-\u9fff\u3400-\u4dbf\u{20000}-\u{2fa1f}\uf900-\ufaff]/u.test(ch);

/** Words of text[start, end): whitespace-separated, with punctuation and CJK characters on their own. */
function wordsIn(text: string, start: number, end: number): Span[] {
  const words: Span[] = [];
  let cur: number | undefined;
  let last = start; // end of the last character that a normalizer keeps
  for (let i = start; i < end;) {
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (/\s/u.test(ch) || isSplitChar(ch)) {
      if (cur !== undefined) words.push([cur, last]);
      cur = undefined;
      if (isSplitChar(ch)) words.push([i, i + ch.length]);
    } else if (!/\p{Mn}|\p{Cf}|\p{Cc}/u.test(ch)) {
      // Combining marks, format and control characters are dropped by normalization: they end no word.
      if (cur === undefined) cur = i;
      last = i + ch.length;
    }
    i += ch.length;
  }
  if (cur !== undefined) words.push([cur, last]);
  return words;
}

function findFrom(hay: string[], needle: string[], from: number): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const charLength = (text: string, index: number): number => (text.codePointAt(index)! > 0xffff ? 2 : 1);
