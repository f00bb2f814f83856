#!/usr/bin/python3
"""Compare scripts/demo/wordpiece.py with @huggingface/tokenizers (JS) on many strings.

    cd /tmp && mkdir -p tokcheck && cd tokcheck && npm init -y >/dev/null && npm install @huggingface/tokenizers
    /usr/bin/python3 scripts/demo/check_tokenizer_js.py --js-dir /tmp/tokcheck [--tokenizer demo/qa/tokenizer.json]

Encodes the fixture cases of make_tokenizer_fixture.py plus seeded random strings
(mixtures of ASCII, accented Latin, Greek, Cyrillic, CJK, emoji, punctuation,
whitespace and control characters) with both, and prints every disagreement
(ids or token_type_ids). Exit status 1 if there is a disagreement not explained
by a known difference (see KNOWN below).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixture import CASES  # noqa: E402
from wordpiece import ROOT, BertUncasedTokenizer, is_chinese_char, is_control, is_whitespace  # noqa: E402

JS = r"""
import { Tokenizer } from '@huggingface/tokenizers';
import fs from 'node:fs';
const [tokPath, cfgPath, casesPath, outPath] = process.argv.slice(2);
const tok = new Tokenizer(JSON.parse(fs.readFileSync(tokPath, 'utf8')), JSON.parse(fs.readFileSync(cfgPath, 'utf8')));
const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
fs.writeFileSync(outPath, JSON.stringify(cases.map(c => {
  const e = tok.encode(c.text, { text_pair: c.text_pair ?? null, return_token_type_ids: true });
  return { ids: e.ids, tokens: e.tokens, type_ids: e.token_type_ids };
})));
"""

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "     ",
    ".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=~`|",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÉÎÕÜßœŒłŁđĐħ",
    "αβγδεζηθικλμνξοπρστυφχψωΣΑΒΓΔ",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяЖЩЁ",
    "中文字符我爱北京天安门日本語한국어ひらがなカタカナ",
    "😀🍕👍🏽❤️☃♞∑∫√∞€£¥₹½²①Ⅳ",
    "\t\n\r\u00a0\u2009\u3000\u200b\u200d\ufeff\u00ad\x00\x07\x1b\ufffd\x0b\x0c\x85\u2028",
    "“”‘’–—…«»¿¡·•§¶†",
    "e\u0301a\u0308o\u0302n\u0303",
    "\U00020000\U00020001\U0002a700\U0002b820\U0002f800\u0378\u0379\ue000\U000e0001\u061c\u2066\u00ad",
]
WORDS = ["the", "movie", "was", "wonderful", "Café", "naïve", "unbelievable", "Who", "founded", "[MASK]", "[SEP]"]


def random_text(rng):
    out = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.35:
            out.append(rng.choice(WORDS))
        elif r < 0.45:
            out.append(rng.choice("ab") * rng.randint(95, 105))
        else:
            pool = rng.choice(POOLS)
            out.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        out.append(rng.choice([" ", " ", "", "\t", ", "]))
    return "".join(out)


def known_reason(case):
    """Known, explained differences between the Rust semantics (wordpiece.py) and the JS port."""
    reasons = []
    if case.get("text_pair") == "":
        reasons.append("empty-pair")
    text = case["text"] + (case.get("text_pair") or "")
    if "\u03a3" in text:
        reasons.append("final-sigma")
    if any(ord(c) > 0xFFFF and is_chinese_char(ord(c)) for c in text):
        reasons.append("astral-cjk")
    return reasons


class JsLikeTokenizer(BertUncasedTokenizer):
    """wordpiece.py with the known deviations of @huggingface/tokenizers 0.2.0 switched on,
    to show that they explain every difference:
      - final sigma when lowercasing (JS String.toLowerCase on the whole text),
      - CJK padding only for BMP code points (it walks UTF-16 code units),
      - text_pair "" counts as no pair."""

    @staticmethod
    def normalize(text, base=0):
        out = []
        for i, ch in enumerate(text):
            span = (base + i, base + i + 1)
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            if is_whitespace(ch):
                ch = " "
            if cp <= 0xFFFF and is_chinese_char(cp):
                out.extend([(" ", span), (ch, span), (" ", span)])
            else:
                out.append((ch, span))
        res = []
        for k, (ch, span) in enumerate(out):
            if ch == "\u03a3":  # Final_Sigma (approximation: cased letter before, none after)
                prev_cased = k > 0 and out[k - 1][0].isalpha()
                next_cased = k + 1 < len(out) and out[k + 1][0].isalpha()
                low = "\u03c2" if prev_cased and not next_cased else "\u03c3"
            else:
                low = ch.lower()
            for lo in low:
                for d in unicodedata.normalize("NFD", lo):
                    if unicodedata.category(d) != "Mn":
                        res.append((d, span))
        return res

    def encode(self, text, text_pair=None, add_special_tokens=True):
        return super().encode(text, text_pair or None, add_special_tokens)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--js-dir", default="/tmp/tokcheck", help="folder with node_modules/@huggingface/tokenizers")
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "demo", "qa", "tokenizer.json"))
    ap.add_argument("--n-random", type=int, default=3000)
    args = ap.parse_args()
    cfg = os.path.join(os.path.dirname(args.tokenizer), "tokenizer_config.json")
    tok = BertUncasedTokenizer(args.tokenizer)
    rng = random.Random(1234)
    cases = [dict(c) for c in CASES]
    cases += [{"text": random_text(rng)} for _ in range(args.n_random)]
    cases += [{"text": random_text(rng), "text_pair": random_text(rng)} for _ in range(args.n_random // 3)]
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(args.js_dir, "_gradlens_check.mjs")  # must resolve the package from js-dir
        with open(script, "w") as f:
            f.write(JS)
        cpath, opath = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
        with open(cpath, "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
        try:
            subprocess.run(["node", script, args.tokenizer, cfg, cpath, opath], check=True)
        finally:
            os.remove(script)
        with open(opath, encoding="utf-8") as f:
            js = json.load(f)
    n_bad, n_known, reasons_seen = 0, 0, {}
    jslike = JsLikeTokenizer(tok.id_to_token)
    n_jslike_bad = 0
    for c, j in zip(cases, js):
        q = jslike.encode(c["text"], c.get("text_pair"))
        if q["ids"] != j["ids"] or q["type_ids"] != j["type_ids"]:
            n_jslike_bad += 1
            print("JSLIKE-DIFF", json.dumps(c, ensure_ascii=False))
            print("   jslike:", q["tokens"])
            print("   js:    ", j["tokens"])
        p = tok.encode(c["text"], c.get("text_pair"))
        if p["ids"] == j["ids"] and p["type_ids"] == j["type_ids"]:
            continue
        reasons = known_reason(c)
        for r in reasons:
            reasons_seen[r] = reasons_seen.get(r, 0) + 1
        if reasons:
            n_known += 1
        else:
            n_bad += 1
        if not reasons or n_known <= 5 or c in CASES:
            print("DIFF", reasons or "UNEXPLAINED", json.dumps(c, ensure_ascii=False))
            print("   py:", p["tokens"])
            print("   js:", j["tokens"])
    print(f"{len(cases)} strings compared ({len(CASES)} fixture cases, {len(cases) - len(CASES)} random): "
          f"{len(cases) - n_bad - n_known} identical, {n_known} known differences {reasons_seen}, "
          f"{n_bad} unexplained")
    print(f"wordpiece.py with the known JS deviations switched on (JsLikeTokenizer) vs JS: "
          f"{len(cases) - n_jslike_bad} identical, {n_jslike_bad} different")
    sys.exit(1 if n_bad or n_jslike_bad else 0)


if __name__ == "__main__":
    main()
