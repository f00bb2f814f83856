#!/usr/bin/python3
"""Reference token ids for bert-base-uncased, from scripts/demo/wordpiece.py.

    /usr/bin/python3 scripts/demo/make_tokenizer_fixture.py [--vocab PATH] [--out PATH]

Writes test/fixtures/tokenizer/bert-base-uncased-ids.json: a list of
  {text, text_pair?, ids, tokens, type_ids, offsets, offsets_utf16, note?}
as the HuggingFace `tokenizers` library (Rust, via its Python bindings) gives them for
the bert-base-uncased tokenizer.json with add_special_tokens=True: `offsets` are
code point offsets into text (or into text_pair for the second segment, as the
bindings report them), [CLS]/[SEP] added by the template get [0, 0];
`offsets_utf16` are the same in UTF-16 code units (JavaScript string indices).
Entries with a `note` are ones where @huggingface/tokenizers (JS) 0.2.0 gives
different ids; the note says why (see scripts/demo/check_tokenizer_js.py).

Checked against the `tokenizers` library itself (0.23.2, scripts/demo/check_tokenizer_hf.py):
all entries identical (ids, tokens, type_ids, offsets).
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wordpiece import ROOT, BertUncasedTokenizer, utf16_offsets  # noqa: E402

LONG_WORD = "a" * 101
CASES = [
    # plain English
    {"text": "Hello, world!"},
    {"text": "The quick brown fox jumps over the lazy dog."},
    {"text": "It is important to us to include, empower and support humans of all kinds."},
    {"text": "Transformers explain themselves poorly; integrated gradients help."},
    {"text": "I don't think they'll've finished by 5 o'clock."},
    {"text": ""},
    {"text": "   "},
    # mixed case
    {"text": "HeLLo WoRLD, this Is MiXeD CaSe: iPhone, McDonald's, NASA."},
    # accents
    {"text": "café"},
    {"text": "naïve"},
    {"text": "Ünïcödé"},
    {"text": "Crème brûlée à la française, señor Müller, Ångström, Øresund, São Paulo."},
    {"text": "ﬁne ligatures ﬀ and full-width ＡＢＣ１２３"},
    {"text": "İstanbul and DOĞRU"},
    {"text": "e\u0301 (combining acute) vs \u00e9 (precomposed)"},
    # punctuation runs
    {"text": "Wait... what?!? (really) [sic] {braces} <tags> #hash @user $100 50% a&b"},
    {"text": "---***!!!???...,,,;;;:::"},
    {"text": "“Smart quotes” and ‘single’ – en dash — em dash … ellipsis «guillemets» ¿¡"},
    {"text": "back`tick ^caret |pipe ~tilde \\backslash /slash +plus =equals _under"},
    {"text": "e-mail: someone@example.com, url: https://example.org/a/b?c=d&e=f#g"},
    # CJK
    {"text": "中文字符"},
    {"text": "我爱北京天安门。"},
    {"text": "English mixed with 中文 and 日本語のテキスト and 한국어 text"},
    {"text": "ひらがな カタカナ ｶﾀｶﾅ"},
    # unknown words / emoji / symbols
    {"text": "I love pizza 😀🍕!"},
    {"text": "emoji 👍🏽 with modifier and ❤️ heart"},
    {"text": "math ∑∫√∞ ≤ ≥ ≠ and arrows → ← and currency €£¥₹"},
    {"text": "Qwxzqv blorptastic zyzzyva flibbertigibbet"},
    {"text": "unknown ☃ snowman ♞ knight"},
    # very long words
    {"text": LONG_WORD},
    {"text": "short " + "b" * 100 + " exactly100 " + "c" * 150 + " end"},
    {"text": "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism"},
    {"text": "ab" * 60 + "!"},
    # numbers
    {"text": "In 1998, 3.14159 people paid $1,234.56 for 2nd-place tickets at 10:30pm on 2024-01-31."},
    {"text": "0123456789 1e-10 0x1F 1/2 ½ ² ³ ① Ⅳ"},
    # whitespace oddities
    {"text": "tab\tseparated\tvalues"},
    {"text": "line one\nline two\r\nline three\rend"},
    {"text": "no\u00a0break\u00a0space and\u2009thin\u2002en\u3000ideographic"},
    {"text": "  leading and trailing  \n\t "},
    {"text": "zero\u200bwidth joiner\u200dand\ufeffbom and soft\u00adhyphen"},
    {"text": "control\x00chars\x07here\x1b[0m and \ufffd replacement"},
    {"text": "vertical\x0btab and form\x0cfeed and next\x85line"},
    {"text": "line\u2028separator\u2029paragraph"},
    # special tokens in text
    {"text": "Paris is the [MASK] of France."},
    {"text": "a[SEP]b [CLS] [PAD] [UNK] [mask] [MASK"},
    # Greek / Cyrillic / other scripts
    {"text": "ΟΔΟΣ σοφός ΣΟΦΟΣ"},
    {"text": "Привет, мир! Ёлка"},
    {"text": "مرحبا بالعالم שלום עולם नमस्ते दुनिया"},
    # pairs (question + context)
    {"text": "What is important to us?",
     "text_pair": "It is important to us to include, empower and support humans of all kinds."},
    {"text": "Who founded Acme?", "text_pair": "Acme was founded by Jane Doe in 1987. It is located in Berlin."},
    {"text": "Where is the café?", "text_pair": "The café is located in São Paulo, Brazil."},
    {"text": "", "text_pair": "Only a second segment."},
    {"text": "Q?", "text_pair": ""},
    # known JS differences (see NOTES)
    {"text": "Ext-B ideographs \U00020000\U00020001 here"},
    {"text": "unassigned \u0378 code point and private \ue000 use"},
    {"text": "Was ist das?", "text_pair": "Das ist ein 中文 Satz mit 😀 und [MASK]."},
]

# where @huggingface/tokenizers 0.2.0 differs (checked by check_tokenizer_js.py)
NOTES = {
    "ΟΔΟΣ σοφός ΣΟΦΟΣ": "final sigma: Rust lowercases char by char (Σ -> σ); JS String.toLowerCase "
                        "applies the final-sigma rule (Σ -> ς at word end)",
    "Ext-B ideographs \U00020000\U00020001 here": "astral CJK ideographs: Rust pads every CJK code point with "
                                                 "spaces; the JS port tests UTF-16 code units, so it does not "
                                                 "split characters outside the BMP",
}
PAIR_NOTES = {
    ("Q?", ""): "empty second segment: Rust encodes the pair ([CLS] A [SEP] [SEP]); the JS port treats "
                "text_pair \"\" as no pair ([CLS] A [SEP])",
}


def build(tok):
    rows = []
    for case in CASES:
        enc = tok.encode(case["text"], case.get("text_pair"))
        row = dict(case)
        row["ids"] = enc["ids"]
        row["tokens"] = enc["tokens"]
        row["type_ids"] = enc["type_ids"]
        row["offsets"] = [list(o) for o in enc["offsets"]]
        # utf-16 offsets: segment A tokens index text, segment B tokens index text_pair
        n_a = enc["type_ids"].index(1) if 1 in enc["type_ids"] else len(enc["ids"])
        u16 = [list(o) for o in utf16_offsets(case["text"], enc["offsets"][:n_a])]
        if n_a < len(enc["ids"]):
            u16 += [list(o) for o in utf16_offsets(case["text_pair"], enc["offsets"][n_a:])]
        row["offsets_utf16"] = u16
        note = NOTES.get(case["text"]) or PAIR_NOTES.get((case["text"], case.get("text_pair")))
        if note:
            row["note"] = note
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default=None, help="vocab.txt or tokenizer.json (default: shared bert-base-uncased vocab)")
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "tokenizer", "bert-base-uncased-ids.json"))
    args = ap.parse_args()
    tok = BertUncasedTokenizer(args.vocab)
    rows = build(tok)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
        f.write("\n]\n")
    print(f"wrote {len(rows)} cases to {args.out}")


if __name__ == "__main__":
    main()
