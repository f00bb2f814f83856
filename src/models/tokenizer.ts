import { LIMITS } from '../io/limits.js';
import { readJsonFrom, type ModelSource } from '../io/source.js';
import { Tokenizer } from '@huggingface/tokenizers';
import { fail } from '../errors.js';
import { alignTokens, type Span } from './align.js';
import { wordConvention, type WordConvention } from './words.js';

export type Truncation = 'only_second' | 'longest_first' | 'only_first';

/** One encoded text or text pair, with everything the explanations need to point back at the text. */
export interface Encoded {
  ids: number[];
  tokens: string[];
  typeIds: number[];
  attentionMask: number[];
  /** Whether each token was added by the template ([CLS], [SEP], <s>, …). */
  special: boolean[];
  /** Which text each token came from (0 = first, 1 = pair), null for special tokens. */
  segment: (0 | 1 | null)[];
  /** Character span of each token in its own text, null for special tokens. */
  offsets: (Span | null)[];
  /** How many tokens truncation dropped (0 when none). */
  truncatedTokens: number;
}

const tokenText = (t: unknown): string | undefined => (typeof t === 'string' ? t : (t as { content?: string } | null)?.content);

/** A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) with pairs, truncation, offsets and padding. */
export class TextTokenizer {
  private readonly tok: Tokenizer;
  readonly padId: number;
  readonly unkId: number | undefined;
  readonly maskId: number | undefined;
  readonly eosId: number | undefined;
  readonly bosId: number | undefined;
  /** Whether tokenizer_config.json / tokenizer.json names a pad token (padId falls back to 0 otherwise). */
  readonly hasPad: boolean;
  readonly modelMaxLength: number;
  /** How its tokens make words (models/words.ts). */
  readonly words: WordConvention;
  /** The normalizer lower-cases: Σ needs the Rust tokenizers' per-character treatment (see tokenize). */
  private readonly charwiseLowercase: boolean;
  private readonly spacesCjk: boolean;
  private readonly cleansText: boolean;

  constructor(tokenizerJson: object, config: Record<string, unknown>) {
    const normalizer = (tokenizerJson as { normalizer?: { type?: string; handle_chinese_chars?: boolean } | null }).normalizer;
    this.charwiseLowercase = lowercasesCharwise(normalizer);
    this.spacesCjk = normalizer?.type === 'BertNormalizer' && normalizer.handle_chinese_chars !== false;
    this.cleansText = normalizer?.type === 'BertNormalizer' && (normalizer as { clean_text?: boolean }).clean_text !== false;
    try {
      this.tok = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      fail(`cannot build the tokenizer from tokenizer.json: ${(e as Error).message}`);
    }
    const id = (key: string, fallbacks: string[]) => {
      for (const t of [tokenText(config[key]), ...fallbacks]) {
        const v = t === undefined ? undefined : this.tok.token_to_id(t);
        if (v !== undefined) return v;
      }
      return undefined;
    };
    const pad = id('pad_token', ['[PAD]', '<pad>']);
    this.hasPad = pad !== undefined;
    this.padId = pad ?? 0;
    this.eosId = id('eos_token', ['</s>', '<|endoftext|>', '<|end_of_text|>', '<|im_end|>']);
    this.bosId = id('bos_token', ['<s>', '<|begin_of_text|>']);
    this.unkId = id('unk_token', ['[UNK]', '<unk>']);
    this.maskId = id('mask_token', ['[MASK]', '<mask>']);
    const max = Number(config['model_max_length']);
    this.modelMaxLength = Number.isFinite(max) && max > 0 && max < 1e6 ? max : 512;
    this.words = wordConvention(tokenizerJson);
  }

  /** From a model folder's tokenizer.json and tokenizer_config.json. */
  static async fromSource(source: ModelSource): Promise<TextTokenizer> {
    if (!(await source.has('tokenizer.json'))) fail(`${source.label} has no tokenizer.json (gradlens needs the fast-tokenizer file of the model)`);
    const json = await readJsonFrom(source, 'tokenizer.json', LIMITS.tokenizerJson);
    const config = (await source.has('tokenizer_config.json')) ? await readJsonFrom(source, 'tokenizer_config.json', LIMITS.configJson) : {};
    return new TextTokenizer(json, config);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Token ids back to text (the tokenizer's decoder; special tokens left out). */
  decode(ids: readonly number[]): string {
    return this.tok.decode([...ids], { skip_special_tokens: true });
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Tokens of a text without special tokens. */
  tokenize(text: string): string[] {
    // String.toLowerCase (used by the JS normalizers) maps a word-final Σ to ς; the Rust tokenizers lower-case one
    // character at a time (σ). Σ is the only context-dependent mapping, so it is lowered here first.
    let input = this.charwiseLowercase ? text.replace(/\u03a3/g, '\u03c3') : text;
    // BERT puts spaces around every CJK ideograph; the JS normalizer misses those outside the BMP (Extension B+).
    // BERT's clean_text drops control, format, private-use and surrogate characters (Rust `is_other` minus the
    // unassigned ones, which stay and become [UNK]); the JS normalizer keeps some of them.
    if (this.cleansText) input = input.replace(/(?![\t\n\r])[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu, '');
    if (this.spacesCjk) input = input.replace(/([\u{20000}-\u{2A6DF}\u{2A700}-\u{2CEAF}\u{2F800}-\u{2FA1F}])/gu, ' $1 ');
    return this.tok.tokenize(input, { add_special_tokens: false });
  }

  /** Number of special tokens the template adds to a single text or a pair. */
  specialCount(pair: boolean): number {
    return this.assemble([], pair ? [] : undefined).tokens.length;
  }

  encode(text: string, pair?: string, options: { maxLength?: number; truncation?: Truncation } = {}): Encoded {
    let a = this.tokenize(text);
    let b = pair === undefined ? undefined : this.tokenize(pair);
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const budget = maxLength - this.specialCount(b !== undefined);
    const before = a.length + (b?.length ?? 0);
    if (before > budget) {
      const mode = options.truncation ?? (b ? 'longest_first' : 'only_first');
      if (mode === 'only_second' && b) {
        if (a.length >= budget) fail(`the first text alone has ${a.length} tokens: too long for the model's ${maxLength} positions`);
        b = b.slice(0, budget - a.length);
      } else if (mode === 'only_first' || !b) {
        a = a.slice(0, Math.max(0, budget - (b?.length ?? 0)));
      } else {
        while (a.length + b.length > budget) {
          if (a.length >= b.length) a = a.slice(0, -1);
          else b = b.slice(0, -1);
        }
      }
    }
    const truncatedTokens = before - (a.length + (b?.length ?? 0));
    const assembled = this.assemble(a, b);
    const spansA = alignTokens(text, a);
    const spansB = b ? alignTokens(pair!, b) : [];
    const ids = assembled.tokens.map((t, i) => {
      const id = this.tok.token_to_id(t);
      if (id === undefined) fail(`token ${JSON.stringify(t)} at position ${i} has no id in the vocabulary`);
      return id;
    });
    return {
      ids,
      tokens: assembled.tokens,
      typeIds: assembled.typeIds,
      attentionMask: ids.map(() => 1),
      special: assembled.source.map((s) => s === null),
      segment: assembled.source.map((s) => (s === null ? null : s[0])),
      offsets: assembled.source.map((s) => (s === null ? null : (s[0] === 0 ? spansA : spansB)[s[1]]!)),
      truncatedTokens,
    };
  }

  /** Applies the post-processor template; each output token is traced to (segment, index) or null for specials. */
  private assemble(a: string[], b: string[] | undefined): { tokens: string[]; typeIds: number[]; source: ([0 | 1, number] | null)[] } {
    const mark = (seg: 0 | 1, i: number) => `\u{F0000}${seg}:${i}`;
    const pa = a.map((_, i) => mark(0, i));
    const pb = b?.map((_, i) => mark(1, i));
    const post = this.tok.post_processor;
    const out = post ? post.post_process(pa, pb, { add_special_tokens: true }) : { tokens: [...pa, ...(pb ?? [])], token_type_ids: undefined };
    const marked = [...out.tokens, ...(out.tokens_pair ?? [])];
    const source = marked.map((t): [0 | 1, number] | null => {
      const m = /^\u{F0000}([01]):(\d+)$/u.exec(t);
      return m ? [Number(m[1]) as 0 | 1, Number(m[2])] : null;
    });
    const tokens = marked.map((t, i) => (source[i] ? (source[i]![0] === 0 ? a : b!)[source[i]![1]]! : t));
    const typeIds = out.token_type_ids ?? source.map((s, i) => (s ? s[0] : i > 0 && source.slice(0, i).some((p) => p?.[0] === 1) ? 1 : 0));
    return { tokens, typeIds, source };
  }
}

/** Whether the normalizer lower-cases (BertNormalizer lowercase, Lowercase, or either inside a Sequence). */
function lowercasesCharwise(normalizer: unknown): boolean {
  const n = normalizer as { type?: string; lowercase?: boolean; normalizers?: unknown[] } | null | undefined;
  if (!n) return false;
  if (n.type === 'BertNormalizer') return n.lowercase !== false;
  if (n.type === 'Lowercase') return true;
  if (n.type === 'Sequence') return (n.normalizers ?? []).some(lowercasesCharwise);
  return false;
}
