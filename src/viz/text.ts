import type { Explanation } from '../tasks/common.js';
import { captumRgb } from './colors.js';
import { escapeControls } from './escape.js';
import { answerSpan, attributionScore, deltaSummary, describePrediction, num, percent, settingsLine, shownToken, unkMap, viewOf, deltaName } from './report.js';

export interface TextOptions {
  /** Show each token's value in colour mode too: `token(+0.12)` (without colour the values are always shown). */
  values?: boolean;
  /** Wrap lines to this many columns (default 100, at least 20), at token boundaries; a token is never split. */
  width?: number;
  /** The original characters of [UNK] tokens (token index → text), shown as `[UNK] (orig)`; default: the explanation's `unk_text`. */
  unk?: Record<number, string>;
}

/** Tokens with |normalized| at most this are neutral: printed plain, in the terminal's own colours. */
export const NEUTRAL = 0.05;
export const DEFAULT_WIDTH = 100;

const RESET = '\x1b[0m', UNDERLINE = '\x1b[4m', BLACK = '\x1b[38;2;0;0;0m';
const background = (v: number): string => `\x1b[48;2;${captumRgb(v).join(';')}m`;
const ANSI = /\x1b\[[0-9;]*m/g;

/** Columns a string takes in a terminal: SGR escapes count 0, combining marks 0, East Asian wide characters 2. */
export function visibleWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ANSI, '')) {
    const c = ch.codePointAt(0)!;
    if (/\p{M}/u.test(ch) || c === 0x200b || c === 0x200c || c === 0x200d || c === 0xfeff) continue;
    const wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) || (c >= 0xac00 && c <= 0xd7a3)
      || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6)
      || (c >= 0x1f300 && c <= 0x1f64f) || (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

/** Greedy wrap of units joined by spaces; a unit is never split (one longer than the width gets a line of its own). */
function wrapUnits(units: string[], width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line: string | undefined;
  for (const u of units) {
    if (line === undefined) line = u;
    else if (visibleWidth(line) + 1 + visibleWidth(u) <= width) line += ` ${u}`;
    else { lines.push(line); line = indent + u; }
  }
  if (line !== undefined) lines.push(line);
  return lines;
}

/** Splits a word (plain text, no escapes) into chunks of at most `size` columns. */
function chunks(word: string, size: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const ch of word) {
    if (cur !== '' && visibleWidth(cur + ch) > size) { out.push(cur); cur = ''; }
    cur += ch;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * Wraps a line of text (already escaped) at spaces; continuation lines are indented. `\0` marks a space that is
 * not a break (escapeControls turns a real NUL into `\x00`, so none is left in escaped text). A word longer than a
 * line is cut (these are our messages, settings and names, not tokens).
 */
function wrapText(text: string, width: number, indent = '  '): string[] {
  const words = text.split(' ').flatMap((w) => (visibleWidth(w) > width - indent.length ? chunks(w.replace(/\0/g, ' '), width - indent.length) : [w]));
  return wrapUnits(words, width, indent).map((l) => l.replace(/\0/g, ' '));
}

/** Phrases kept together on a line when they fit; else broken at their spaces. */
const phrase = (s: string, width: number): string => (visibleWidth(s) <= width - 2 ? s.replace(/ /g, '\0') : s);

const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

/**
 * Terminal view. With colour: tokens whose |value| is above NEUTRAL on Captum's colours (green for the target, red
 * against it) with black text, neutral tokens plain (readable on dark and light terminals), the QA answer underlined,
 * a legend with the scale. Without colour: `token(+0.12)`, the answer in [ ]. Lines wrap to `width` at token
 * boundaries. Everything from the model or the input is escaped (viz/escape.ts); only our own SGR codes stay raw.
 */
export function renderText(full: Explanation, color: boolean, options: TextOptions = {}): string {
  const e = viewOf(full);
  const width = Math.max(20, Math.floor(Number.isFinite(options.width) ? options.width! : DEFAULT_WIDTH));
  const lines: string[] = [];
  const para = (text: string) => lines.push(...wrapText(escapeControls(text), width));
  para(`${e.task} · ${e.model}`);
  para(describePrediction(e));
  para(settingsLine(e));
  for (const w of e.warnings) para(`warning: ${w}`);
  const span = answerSpan(e);
  const unk = unkMap(e, options.unk);
  for (const a of e.attributions) {
    lines.push('');
    const parts = [`[${a.target}] attribution score ${num(attributionScore(a.per_token))}`];
    if (a.f_x !== null && a.f_x !== undefined) parts.push(`F(x) ${num(a.f_x)}`);
    if (a.f_baseline !== null && a.f_baseline !== undefined) parts.push(`F(baseline) ${num(a.f_baseline)}`);
    const d = deltaSummary(a);
    if (d !== undefined) {
      const share = d.relative === undefined ? '' : ` (${percent(d.relative)} of F(x) − F(baseline))`;
      parts.push(`${deltaName(a)} ${Number(a.delta!.toPrecision(3))}${share}${d.large ? ' ⚠' : ''}`);
    }
    lines.push(...wrapText(parts.map((p) => phrase(escapeControls(p), width)).join(', '), width));
    const toks = e.tokens.map((_, i) => {
      const v = a.normalized[i]!;
      const shown = escapeControls(shownToken(e.tokens, i, unk));
      const inAnswer = span !== undefined && i >= span[0] && i <= span[1];
      if (!color) return `${inAnswer && i === span[0] ? '[' : ''}${shown}(${signed(v)})${inAnswer && i === span[1] ? ']' : ''}`;
      const body = options.values ? `${shown}(${signed(v)})` : shown;
      const codes = `${Math.abs(v) > NEUTRAL ? `${background(v)}${BLACK}` : ''}${inAnswer ? UNDERLINE : ''}`;
      return codes ? `${codes}${body}${RESET}` : body;
    });
    lines.push(...wrapUnits(toks, width));
  }
  lines.push('');
  if (color) {
    const swatches = [-1, -0.5, 0, 0.5, 1].map((v) => (v === 0 ? '0' : `${background(v)}${BLACK} ${v > 0 ? '+' : '-'}${Math.abs(v)} ${RESET}`));
    const words = `(attribution normalised by its L2 norm: green for the target, red against it; |value| ≤ ${NEUTRAL} plain${span ? `; ${UNDERLINE}underlined${RESET}: the answer` : ''})`.split(' ');
    lines.push(...wrapUnits(['legend:', ...swatches, ...words], width, '  '));
  } else {
    para(`legend: token(value), the attribution normalised by its L2 norm, from -1 (against the target) to +1 (for it)${span ? '; [ ]: the answer span' : ''}`);
  }
  return lines.join('\n');
}
