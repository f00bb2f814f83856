"""A faithful bert-base-uncased tokenizer in pure Python (no `transformers`/`tokenizers`).

Mirrors what the HuggingFace `tokenizers` library (Rust) does for the
bert-base-uncased tokenizer.json:

  added tokens   [PAD] [UNK] [CLS] [SEP] [MASK] (special, normalized=false) are split
                 out of the *raw* text first (leftmost-longest match), like
                 AddedVocabulary; the text between them goes through:
  normalizer     BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None
                 -> follows lowercase, lowercase):
                   1. clean text: drop U+0000, U+FFFD and control/format/private/surrogate
                      chars (Cc Cf Co Cs, except \\t \\n \\r; unassigned Cn code points are
                      kept, as `tokenizers` does); map whitespace (\\t \\n \\r and the Unicode
                      White_Space property, e.g. U+00A0, U+3000) to ' '
                   2. put spaces around CJK ideographs (the Rust code point ranges)
                   3. strip accents: NFD, drop nonspacing marks (Mn)
                   4. lowercase, character by character (Rust `char::to_lowercase`,
                      so no final-sigma rule: 'Σ' -> 'σ' everywhere)
  pre-tokenizer  BertPreTokenizer: split on whitespace (removed) and on punctuation
                 (isolated; ASCII punctuation or Unicode P*)
  model          WordPiece: greedy longest-match-first, "##" continuation prefix;
                 a word of more than 100 chars, or one that cannot be covered,
                 becomes a single [UNK]
  post-processor TemplateProcessing: [CLS] A [SEP] (type 0) / ... B [SEP] (type 1)

Offsets are (start, end) character (code point) offsets into the original text,
as the Python bindings of `tokenizers` report them; special tokens added by the
template get (0, 0).

Usable as a script for a quick look:
    /usr/bin/python3 scripts/demo/wordpiece.py "Hello, world!" ["optional pair"]
"""

import json
import os
import sys
import unicodedata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The real bert-base-uncased vocabulary, copied into the repository from shared/vocab.
DEFAULT_VOCAB = os.path.join(ROOT, "test", "fixtures", "tokenizer", "bert-base-uncased-vocab.txt")

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Rust `char::is_whitespace` (Unicode White_Space property)
_WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} \
    | set(range(0x2000, 0x200B))


def is_whitespace(ch):
    return ch in "\t\n\r" or ord(ch) in _WHITE_SPACE


def is_control(ch):
    # BertNormalizer::is_control: \t \n \r count as whitespace; otherwise `is_other()` of
    # the unicode_categories crate, which in practice is Cc, Cf, Co, Cs: tokenizers 0.23
    # keeps unassigned code points (U+0378 -> [UNK]), checked with the library itself
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_chinese_char(cp):
    # ranges exactly as in tokenizers/src/normalizers/bert.rs (note 0x2B920, not 0x2B820)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def is_punctuation(ch):
    # BertPreTokenizer: char::is_ascii_punctuation || Unicode punctuation (Pc Pd Ps Pe Pi Pf Po)
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def load_vocab(path=None):
    """Token list (index = id) from a vocab.txt or a tokenizer.json."""
    path = path or DEFAULT_VOCAB
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f)["model"]["vocab"]
        tokens = [None] * len(vocab)
        for tok, i in vocab.items():
            tokens[i] = tok
        return tokens
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


class BertUncasedTokenizer:
    def __init__(self, vocab=None, max_input_chars_per_word=100, unk_token="[UNK]", prefix="##"):
        self.id_to_token = vocab if isinstance(vocab, list) else load_vocab(vocab)
        self.vocab = {}
        for i, tok in enumerate(self.id_to_token):
            if tok in self.vocab:
                raise ValueError("duplicate vocab entry %r" % tok)
            self.vocab[tok] = i
        self.max_input_chars_per_word = max_input_chars_per_word
        self.unk_token = unk_token
        self.prefix = prefix
        self.specials = {t: self.vocab[t] for t in SPECIAL_TOKENS}
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        self.unk_id = self.vocab[unk_token]

    # ------------------------------------------------------------------ normalizer
    @staticmethod
    def normalize(text, base=0):
        """BertNormalizer. Returns [(char, (start, end))] with offsets into the
        original text (shifted by `base`)."""
        out = []
        for i, ch in enumerate(text):
            span = (base + i, base + i + 1)
            cp = ord(ch)
            # 1. clean text
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            if is_whitespace(ch):
                ch = " "
            # 2. chinese chars
            if is_chinese_char(ord(ch)):
                out.extend([(" ", span), (ch, span), (" ", span)])
            else:
                out.append((ch, span))
        # 3. strip accents (NFD, drop Mn) and 4. lowercase per char
        res = []
        for ch, span in out:
            for d in unicodedata.normalize("NFD", ch):
                if unicodedata.category(d) == "Mn":
                    continue
                for lo in d.lower():
                    res.append((lo, span))
        return res

    # --------------------------------------------------------------- pre-tokenizer
    @staticmethod
    def pre_tokenize(chars):
        """BertPreTokenizer on normalized [(char, span)] -> list of words (same shape)."""
        words, cur = [], []
        for item in chars:
            ch = item[0]
            if is_whitespace(ch):
                if cur:
                    words.append(cur)
                cur = []
            elif is_punctuation(ch):
                if cur:
                    words.append(cur)
                words.append([item])
                cur = []
            else:
                cur.append(item)
        if cur:
            words.append(cur)
        return words

    # ----------------------------------------------------------------------- model
    def wordpiece(self, word):
        """word: [(char, span)] -> [(token, (start, end))]."""
        text = "".join(c for c, _ in word)
        whole = (word[0][1][0], word[-1][1][1])
        if len(word) > self.max_input_chars_per_word:
            return [(self.unk_token, whole)]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                sub = text[start:end]
                if start > 0:
                    sub = self.prefix + sub
                if sub in self.vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return [(self.unk_token, whole)]
            pieces.append((found, (word[start][1][0], word[end - 1][1][1])))
            start = end
        return pieces

    # -------------------------------------------------------------------- pipeline
    def _split_added(self, text):
        """Split raw text on the special added tokens (leftmost-longest)."""
        parts, i, start = [], 0, 0
        specials = sorted(self.specials, key=len, reverse=True)
        while i < len(text):
            hit = next((s for s in specials if text.startswith(s, i)), None)
            if hit is None:
                i += 1
                continue
            if i > start:
                parts.append((False, text[start:i], start))
            parts.append((True, hit, i))
            i += len(hit)
            start = i
        if start < len(text):
            parts.append((False, text[start:], start))
        return parts

    def tokenize_with_offsets(self, text):
        """Tokens (no template special tokens) -> [(token, (start, end))]."""
        out = []
        for is_added, piece, base in self._split_added(text):
            if is_added:
                out.append((piece, (base, base + len(piece))))
                continue
            for word in self.pre_tokenize(self.normalize(piece, base)):
                out.extend(self.wordpiece(word))
        return out

    def tokenize(self, text):
        return [t for t, _ in self.tokenize_with_offsets(text)]

    def encode(self, text, text_pair=None, add_special_tokens=True):
        """Like tokenizers.Tokenizer.encode: dict with ids, tokens, offsets,
        type_ids, special_tokens_mask, attention_mask."""
        a = self.tokenize_with_offsets(text)
        b = self.tokenize_with_offsets(text_pair) if text_pair is not None else None
        toks, offs, types, special = [], [], [], []

        def add(seq, type_id):
            for t, o in seq:
                toks.append(t)
                offs.append(o)
                types.append(type_id)
                special.append(0)

        def add_special(tok, type_id):
            toks.append(tok)
            offs.append((0, 0))
            types.append(type_id)
            special.append(1)

        if add_special_tokens:
            add_special("[CLS]", 0)
        add(a, 0)
        if add_special_tokens:
            add_special("[SEP]", 0)
        if b is not None:
            add(b, 1)
            if add_special_tokens:
                add_special("[SEP]", 1)
        ids = [self.vocab[t] for t in toks]
        return {
            "ids": ids,
            "tokens": toks,
            "offsets": offs,
            "type_ids": types,
            "special_tokens_mask": special,
            "attention_mask": [1] * len(ids),
        }

    def decode(self, ids, skip_special_tokens=True):
        """WordPiece decoder (prefix "##", cleanup=True)."""
        toks = [self.id_to_token[i] for i in ids]
        if skip_special_tokens:
            toks = [t for t in toks if t not in self.specials]
        s = ""
        for i, t in enumerate(toks):
            if i > 0 and t.startswith(self.prefix):
                s += t[len(self.prefix):]
            else:
                s += (" " if i > 0 else "") + t
        for a, b in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]:
            s = s.replace(a, b)
        return s


def utf16_offsets(text, offsets):
    """Convert code point offsets to UTF-16 code unit offsets (JavaScript string indices)."""
    pos = [0]
    for ch in text:
        pos.append(pos[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return [(pos[s], pos[e]) for s, e in offsets]



def tokenizer_json(id_to_token):
    """The HuggingFace `tokenizers` JSON of bert-base-uncased (same structure and key
    order as the hub's tokenizer.json), with the vocabulary embedded."""
    special_ids = {t: id_to_token.index(t) for t in SPECIAL_TOKENS}
    added = [
        {"id": special_ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for t in SPECIAL_TOKENS
    ]

    def special(tok, type_id):
        return {"SpecialToken": {"id": tok, "type_id": type_id}}

    def seq(name, type_id):
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [special_ids["[CLS]"]], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [special_ids["[SEP]"]], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(id_to_token)}},
    }


def tokenizer_config(model_max_length):
    """tokenizer_config.json as `transformers` writes it for BertTokenizer(Fast)."""
    decoder = {}
    for i, t in [(0, "[PAD]"), (100, "[UNK]"), (101, "[CLS]"), (102, "[SEP]"), (103, "[MASK]")]:
        decoder[str(i)] = {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": True}
    return {
        "added_tokens_decoder": decoder,
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "do_basic_tokenize": True,
        "do_lower_case": True,
        "mask_token": "[MASK]",
        "model_max_length": model_max_length,
        "never_split": None,
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]",
    }

if __name__ == "__main__":
    tok = BertUncasedTokenizer()
    args = sys.argv[1:] or ["Hello, world!"]
    enc = tok.encode(args[0], args[1] if len(args) > 1 else None)
    for k in ("tokens", "ids", "type_ids", "offsets"):
        print(k, enc[k])
