#!/usr/bin/env python3
"""Compare wordpiece.py and the reference fixture with the HuggingFace `tokenizers`
library itself (Rust), where it is installed (not on the development machine:
run it with a python that has `tokenizers`, e.g. on a machine with the HF stack).

    python3 scripts/demo/check_tokenizer_hf.py [--tokenizer demo/qa/tokenizer.json]
        [--fixture test/fixtures/tokenizer/bert-base-uncased-ids.json]

Checks ids, tokens, type_ids and offsets of every fixture entry against
tokenizers.Tokenizer.from_file(tokenizer.json).encode(text, pair), and wordpiece.py
against the same on seeded random strings (check_tokenizer_js.random_text).
Exit status 1 on any difference.
"""

import argparse
import json
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_tokenizer_js import random_text  # noqa: E402
from make_tokenizer_fixture import CASES  # noqa: E402
from wordpiece import ROOT, BertUncasedTokenizer  # noqa: E402


def hf_encode(hf, text, pair):
    e = hf.encode(text, pair) if pair is not None else hf.encode(text)
    return {"ids": list(e.ids), "tokens": list(e.tokens), "type_ids": list(e.type_ids),
            "offsets": [list(o) for o in e.offsets]}


def main():
    import tokenizers

    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "demo", "qa", "tokenizer.json"))
    ap.add_argument("--fixture", default=os.path.join(ROOT, "test", "fixtures", "tokenizer",
                                                      "bert-base-uncased-ids.json"))
    ap.add_argument("--n-random", type=int, default=3000)
    args = ap.parse_args()
    hf = tokenizers.Tokenizer.from_file(args.tokenizer)
    print("tokenizers", tokenizers.__version__, "python", sys.version.split()[0])
    bad = 0
    with open(args.fixture, encoding="utf-8") as f:
        fixture = json.load(f)
    for row in fixture:
        h = hf_encode(hf, row["text"], row.get("text_pair"))
        diffs = [k for k in ("ids", "tokens", "type_ids", "offsets") if h[k] != row[k]]
        if diffs:
            bad += 1
            print("FIXTURE DIFF", diffs, json.dumps({k: row.get(k) for k in ("text", "text_pair")}, ensure_ascii=False))
            for k in diffs:
                print("   fixture:", row[k])
                print("   hf:     ", h[k])
    print(f"fixture: {len(fixture) - bad}/{len(fixture)} entries identical to tokenizers")
    tok = BertUncasedTokenizer(args.tokenizer)
    rng = random.Random(1234)
    cases = [dict(c) for c in CASES]
    cases += [{"text": random_text(rng)} for _ in range(args.n_random)]
    cases += [{"text": random_text(rng), "text_pair": random_text(rng)} for _ in range(args.n_random // 3)]
    nbad = 0
    for c in cases:
        h = hf_encode(hf, c["text"], c.get("text_pair"))
        p = tok.encode(c["text"], c.get("text_pair"))
        p = {"ids": p["ids"], "tokens": p["tokens"], "type_ids": p["type_ids"], "offsets": [list(o) for o in p["offsets"]]}
        diffs = [k for k in ("ids", "tokens", "type_ids", "offsets") if h[k] != p[k]]
        if diffs:
            nbad += 1
            if nbad <= 20:
                print("WORDPIECE DIFF", diffs, json.dumps(c, ensure_ascii=False))
                for k in diffs:
                    print("   py:", p[k])
                    print("   hf:", h[k])
    print(f"wordpiece.py vs tokenizers: {len(cases) - nbad}/{len(cases)} strings identical "
          f"(ids, tokens, type_ids, offsets)")
    sys.exit(1 if bad or nbad else 0)


if __name__ == "__main__":
    main()
