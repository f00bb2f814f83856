#!/usr/bin/python3
"""Train the two demo models (extractive QA and sentiment) on synthetic templated data
and write them in the transformers.js layout.

    /usr/bin/python3 scripts/demo/train_demo_models.py --out demo [--vocab PATH] [--only qa|sentiment]

Writes <out>/qa/ and <out>/sentiment/, each with config.json, tokenizer.json,
tokenizer_config.json and onnx/model.onnx (fp32, opset 14, inputs
input_ids/attention_mask/token_type_ids int64 with dynamic batch_size/sequence_length,
outputs start_logits/end_logits resp. logits), and <out>/metrics.json with the
measured numbers (held-out accuracies, seed example, sizes, training time).

The models are tiny BERTs (scripts/fixtures/bert_modules.py; hidden 64, 2 layers,
128 positions) with the full bert-base-uncased vocabulary (30522 WordPiece ids), trained
from scratch on CPU in under 10 minutes (2 cores: one torch thread, and a worker process
that makes the batches, since the tokenizer is pure Python). They only know the synthetic
templates below: demo-sized models for end-to-end tests and demos, not real-world
models.

QA: [CLS] question [SEP] context [SEP]; contexts are 1-3 templated sentences (the answer
sentence among up to 2 distractors, 30% of them of the same template with other
entities, so the question has to be matched). Only the
embedding rows of the fixed template words are trained; the rows of the slot fillers
(names, cities, values, ...) keep their random initial values, so that the model has to
locate answers by structure and by matching question and context tokens, and is
evaluated on held-out entity pools (names etc. never used in training).

Sentiment: templated positive/negative reviews (adjectives, verbs, negation, "but"
contrast, recommendations), label 0 negative / 1 positive; evaluated on sentences
with nouns and adverbs held out of training.

Deterministic: fixed seeds, batch i made from its own seeded RNG, one torch thread and
torch.use_deterministic_algorithms on CPU; the script checks the results (seed QA
example exact, held-out accuracies >= QA_MIN_HELDOUT / SENTIMENT_MIN_HELDOUT, the
required sentiment sentences) and exits non-zero if a check fails.

--device cuda, --no-write and --eval-every are for hyper-parameter experiments only.
"""

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread oversubscription on 2 cores
import random
import re
import sys
import time

import numpy as np
import onnx
import torch
from torch import nn

sys.dont_write_bytecode = True  # no __pycache__ in the repo
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from bert_modules import (  # noqa: E402
    BertConfig,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    export_onnx,
    init_weights,
)
from wordpiece import DEFAULT_VOCAB, BertUncasedTokenizer, load_vocab, tokenizer_config, tokenizer_json  # noqa: E402

OPSET = 14
MAX_LEN = 128
CONFIG = dict(
    vocab_size=30522,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=256,
    max_position_embeddings=MAX_LEN,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    hidden_dropout_prob=0.0,  # no dropout: the synthetic data is plentiful, and dropout is slow on CPU
    attention_probs_dropout_prob=0.0,
)

SEED_QUESTION = "What is important to us?"
SEED_CONTEXT = "It is important to us to include, empower and support humans of all kinds."
SEED_ANSWER = "to include, empower and support humans of all kinds"
SENTIMENT_CHECKS = [
    ("This movie was absolutely wonderful!", "positive"),
    ("The food was terrible and the staff were rude.", "negative"),
]
MAX_ANSWER_LEN = 30
# checks (the measured values are in <out>/metrics.json and demo/README.md)
QA_MIN_HELDOUT = 0.7
SENTIMENT_MIN_HELDOUT = 0.9
# sentiment: larger random word vectors (unseen words stay distinct); QA uses --word-std
SENTIMENT_WORD_STD = 0.5
SENTIMENT_POS_STD = 0.02

# ============================================================================ QA data

SYLLABLES = ("ka lo mi ra zen tor bel vin dar sha quo el ix om ur fen gal hol jas kir lum mor nal pex rin sol "
             "tam vor wyn yel zor bri cal dro fla gri hap jun kel mab nor ost pim rud sev tul vek wix yor zal "
             "ae bo cu di fo gu ha ji ko le mu ne po ru se ti vu wa xe yo za").split()
SUFFIXES = "Inc Corp Labs Group Systems Industries Foundation Partners Studios Motors Works Holdings".split()

TRAIN = {
    "adj": "important essential vital crucial valuable meaningful central fundamental necessary precious dear "
           "urgent useful".split(),
    "who": ["us", "them", "you", "me", "him", "her", "the team", "our company", "my family", "the board",
            "every employee", "the school", "our partners"],
    "verb": ["include", "empower", "support", "protect", "help", "serve", "respect", "celebrate", "train",
             "inspire", "welcome", "encourage", "educate", "reward", "listen to", "care for", "connect", "unite",
             "feed", "house", "hire", "thank"],
    "object": ["humans of all kinds", "the environment", "our customers", "people in need", "local communities",
               "every child", "new ideas", "the planet", "small businesses", "young artists", "all our employees",
               "people everywhere", "our neighbors", "the oceans", "older adults", "working parents"],
    "color": "red blue green yellow purple orange black white brown pink gray silver gold".split(),
    "thing": "car house door shirt bike cup wall chair boat hat lamp fence".split(),
    "food": ["pizza", "pasta", "apples", "rice", "soup", "sushi", "bread", "cheese", "noodles", "salad",
             "chocolate", "fish"],
    "noun": "cats dogs books cars brothers sisters houses bicycles plants friends chairs coins".split(),
}
HELDOUT = {
    "adj": "significant critical paramount worthwhile".split(),
    "who": ["the founders", "our members", "the city", "parents"],
    "verb": ["uplift", "mentor", "defend", "nurture", "champion"],
    "object": ["rural families", "future generations", "independent creators", "wildlife"],
    "color": "teal maroon crimson violet beige turquoise".split(),
    "thing": "umbrella kite wallet scarf tent".split(),
    "food": ["tacos", "dumplings", "oatmeal", "curry", "pancakes"],
    "noun": "guitars horses cousins laptops paintings".split(),
    "first": "Alice Robert Maria James Fatima Wei Olga Pedro Aisha Henrik Yuki Carlos Nadia Samuel".split(),
    "last": "Johnson Garcia Nakamura Schmidt Okafor Rossi Novak Silva Larsen Chen Dubois Kowalski".split(),
    "org": ["Acme", "Globex", "Bluebird Analytics", "Quantum Dynamics", "Evergreen Foods", "Silverline",
            "Northwind Traders", "Redwood Energy"],
    "city": "Lisbon Nairobi Kyoto Toronto Oslo Lima Dublin Hanoi Denver Seville Krakow Melbourne".split(),
    "country": "Portugal Kenya Japan Canada Norway Peru Ireland Vietnam Chile Poland".split(),
    "book": ["The Silent River", "Winter Light", "The Glass Garden", "Paper Moons", "The Last Orchard"],
}
FILLERS = [
    "The weather was pleasant that day.",
    "Many people visit the region every year.",
    "The report was published last week.",
    "It has a long and interesting history.",
    "Nobody expected the results to change.",
    "The meeting ended early.",
    "Several new projects were announced.",
    "Prices have risen over the last decade.",
]


_NAME_WORDS = {}


def name_words(tok):
    if id(tok) not in _NAME_WORDS:
        _NAME_WORDS[id(tok)] = _name_words(tok)
    return _NAME_WORDS[id(tok)]


def _name_words(tok):
    """Capitalised whole-word vocabulary entries usable as training names: alphabetic,
    3-9 letters, not a template word and not a token of any held-out entity."""
    banned = set(tok.id_to_token[i] for i in template_token_ids(tok))
    for v in HELDOUT.values():
        for x in v:
            banned.update(tok.tokenize(x))
    out = []
    for t in tok.id_to_token[3000:]:  # skip the most frequent words
        if t.isascii() and t.isalpha() and 3 <= len(t) <= 9 and t not in banned:
            out.append(t.capitalize())
    return out


class Entities:
    """Slot fillers. train=True: names generated from syllables or from random vocabulary
    words, and the TRAIN word pools; train=False: the HELDOUT pools (real names, cities,
    words never used in training)."""

    def __init__(self, rng, train, words=()):
        self.rng = rng
        self.train = train
        self.pool = TRAIN if train else HELDOUT
        self.words = list(words)

    def gen_name(self):
        if self.words and self.rng.random() < 0.5:
            return self.rng.choice(self.words)
        n = self.rng.choice([2, 2, 3])
        return "".join(self.rng.choice(SYLLABLES) for _ in range(n)).capitalize()

    def pick(self, key):
        return self.rng.choice(self.pool[key])

    def person(self):
        if self.train:
            return self.gen_name() + " " + self.gen_name()
        return self.rng.choice(HELDOUT["first"]) + " " + self.rng.choice(HELDOUT["last"])

    def org(self):
        if self.train:
            name = self.gen_name()
            if self.rng.random() < 0.6:
                name += " " + self.rng.choice(SUFFIXES)
            return name
        return self.rng.choice(HELDOUT["org"])

    def place(self):
        return self.gen_name() if self.train else self.rng.choice(HELDOUT["city"])

    def country(self):
        return self.gen_name() if self.train else self.rng.choice(HELDOUT["country"])

    def book(self):
        if self.train:
            t = self.gen_name() if self.rng.random() < 0.3 else self.gen_name() + " " + self.gen_name()
            return ("The " + t) if self.rng.random() < 0.4 else t
        return self.rng.choice(HELDOUT["book"])

    def year(self):
        return str(self.rng.randint(1800, 2023))

    def number(self):
        return str(self.rng.randint(2, 40)) if self.rng.random() < 0.5 else self.rng.choice(
            "two three four five six seven eight nine ten eleven twelve".split())

    def phrase(self):
        verbs = self.pool["verb"]
        k = self.rng.choice([1, 1, 2, 3])
        vs = self.rng.sample(verbs, k) if len(verbs) >= k else [self.rng.choice(verbs) for _ in range(k)]
        if k == 1:
            v = vs[0]
        elif k == 2:
            v = vs[0] + " and " + vs[1]
        else:
            v = vs[0] + ", " + vs[1] + " and " + vs[2]
        return "to " + v + " " + self.rng.choice(self.pool["object"])


# Each fact: (question, [context sentence variants], answer slot). Slots in {braces};
# the answer is the value of one slot. Question/sentence templates with the slots
# removed are the "template words" whose embeddings are trained.
FACTS = [
    ("value", ["What is {adj} to {who}?"], ["It is {adj} to {who} {phrase}."], "phrase"),
    ("founder", ["Who founded {org}?"],
     ["{org} was founded by {person} in {year}.", "{person} founded {org} in {year}.",
      "In {year}, {person} founded {org}."], "person"),
    ("founded", ["When was {org} founded?"],
     ["{org} was founded by {person} in {year}.", "{person} founded {org} in {year}.",
      "In {year}, {person} founded {org}."], "year"),
    ("location", ["Where is {org} located?", "Where is {org} based?"],
     ["{org} is located in {place}.", "{org} is based in {place}.", "The headquarters of {org} are in {place}."],
     "place"),
    ("capital", ["What is the capital of {country}?"],
     ["The capital of {country} is {place}.", "{place} is the capital of {country}."], "place"),
    ("author", ["Who wrote {book}?"], ["{book} was written by {person}.", "{person} wrote {book}."], "person"),
    ("ceo", ["Who is the CEO of {org}?"], ["The CEO of {org} is {person}.", "{person} is the CEO of {org}."],
     "person"),
    ("count", ["How many {noun} does {person} have?"], ["{person} has {number} {noun}."], "number"),
    ("food", ["What does {person} like to eat?"], ["{person} likes to eat {food}."], "food"),
    ("color", ["What color is the {thing}?"], ["The {thing} is {color}."], "color"),
]
SLOT_FN = {
    "adj": lambda e: e.pick("adj"), "who": lambda e: e.pick("who"), "phrase": lambda e: e.phrase(),
    "org": lambda e: e.org(), "person": lambda e: e.person(), "year": lambda e: e.year(),
    "place": lambda e: e.place(), "country": lambda e: e.country(), "book": lambda e: e.book(),
    "noun": lambda e: e.pick("noun"), "number": lambda e: e.number(), "food": lambda e: e.pick("food"),
    "thing": lambda e: e.pick("thing"), "color": lambda e: e.pick("color"),
}


def fill(template, values):
    """Fill a template; return (text, {slot: (start, end)}) with char spans of the slots."""
    out, spans, i = "", {}, 0
    while i < len(template):
        j = template.find("{", i)
        if j < 0:
            out += template[i:]
            break
        out += template[i:j]
        k = template.index("}", j)
        slot = template[j + 1:k]
        spans[slot] = (len(out), len(out) + len(values[slot]))
        out += values[slot]
        i = k + 1
    return out, spans


def fact_values(fact, ent):
    _, qs, ss, _ = fact
    slots = set()
    for t in qs + ss:
        slots.update(s[1:-1] for s in re.findall(r"\{\w+\}", t))
    return {s: SLOT_FN[s](ent) for s in sorted(slots)}


QA_DATA = {"max_distractors": 2, "same_template_p": 0.3}


def make_qa_example(rng, ent):
    fact = rng.choice(FACTS)
    name, qs, ss, ans_slot = fact
    vals = fact_values(fact, ent)
    question, _ = fill(rng.choice(qs), vals)
    sent, spans = fill(rng.choice(ss), vals)
    sentences = [(sent, spans[ans_slot])]
    same_p = QA_DATA["same_template_p"]
    for _ in range(rng.randint(0, QA_DATA["max_distractors"])):
        r = rng.random()
        if r < same_p:  # same template, other entities (forces matching the question)
            other = fact
        elif r < same_p + (1 - same_p) * 0.7:
            other = rng.choice(FACTS)
        else:
            sentences.append((rng.choice(FILLERS), None))
            continue
        ov = fact_values(other, ent)
        q_slots = [k for k in vals if ("{%s}" % k) in qs[0]]
        if other[2] == ss and all(ov[k] == vals[k] for k in q_slots):
            continue  # a second answer to the question: ambiguous
        s, _ = fill(rng.choice(other[2]), ov)
        sentences.append((s, None))
    rng.shuffle(sentences)
    context, ans = "", None
    for s, span in sentences:
        if context:
            context += " "
        if span is not None:
            ans = (len(context) + span[0], len(context) + span[1])
        context += s
    return {"question": question, "context": context, "answer_start": ans[0], "answer_end": ans[1],
            "answer": context[ans[0]:ans[1]], "kind": name, "n_sentences": len(sentences)}


def template_token_ids(tok):
    """Ids of the fixed words of all QA templates (question and context), plus fillers."""
    ids = set()
    texts = [t for f in FACTS for t in f[1] + f[2]] + FILLERS
    for t in texts:
        ids.update(tok.vocab[x] for x in tok.tokenize(re.sub(r"\{\w+\}", " ", t)))
    ids.update(tok.vocab[x] for x in tok.tokenize(" to , and "))  # glue words of the phrase slot
    for t in ["[CLS]", "[SEP]"]:
        ids.add(tok.vocab[t])
    return sorted(ids)


def encode_qa(tok, ex):
    enc = tok.encode(ex["question"], ex["context"])
    ids, tt, offs = enc["ids"], enc["type_ids"], enc["offsets"]
    n_q = tt.index(1)
    start = end = None
    for i in range(n_q, len(ids) - 1):
        if offs[i][0] == ex["answer_start"] and start is None:
            start = i
        if offs[i][1] == ex["answer_end"]:
            end = i
    assert start is not None and end is not None and end >= start, ex
    return ids, tt, offs, start, end


def pad_batch(seqs, pad=0):
    n = max(len(s) for s in seqs)
    return [s + [pad] * (n - len(s)) for s in seqs]


def qa_batch(tok, rng, ent, bs):
    """Plain lists: ids, attention mask, token types (padded), start and end positions."""
    ids, tts, starts, ends = [], [], [], []
    while len(ids) < bs:
        i, t, _, s, e = encode_qa(tok, make_qa_example(rng, ent))
        if len(i) > MAX_LEN:
            continue
        ids.append(i)
        tts.append(t)
        starts.append(s)
        ends.append(e)
    mask = [[1] * len(i) for i in ids]
    return pad_batch(ids), pad_batch(mask), pad_batch(tts), starts, ends


# Batches are made in a worker process (the tokenizer is pure Python) while the main
# process trains; batch i depends only on (seed, i), so the data do not depend on timing.
_WORKER = {}


def _qa_batch_i(i):
    rng = random.Random(f"{_WORKER['seed']}-qa-{i}")
    ent = Entities(rng, train=True, words=_WORKER["words"])
    return qa_batch(_WORKER["tok"], rng, ent, _WORKER["bs"])


def _sentiment_batch_i(i):
    rng = random.Random(f"{_WORKER['seed']}-sentiment-{i}")
    return sentiment_batch(_WORKER["tok"], rng, _WORKER["bs"], _WORKER["exclude"])


def batches(fn, n, **worker_state):
    import multiprocessing as mp
    _WORKER.update(worker_state)
    with mp.get_context("fork").Pool(1) as pool:
        for b in pool.imap(fn, range(n), chunksize=8):
            yield [torch.tensor(x) for x in b]


def best_span(start_logits, end_logits, type_ids, mask, max_len=MAX_ANSWER_LEN):
    """HF question-answering pipeline decoding: softmax over start and end logits with
    the non-context tokens masked out ([CLS] kept in the normalisation, then zeroed),
    best start <= end < start + max_len inside the context. Returns (start, end, score)."""
    s = np.asarray(start_logits, dtype=np.float64)
    e = np.asarray(end_logits, dtype=np.float64)
    tt = np.asarray(type_ids)
    m = np.asarray(mask)
    ctx = (tt == 1) & (m == 1)
    ctx[len(ctx) - 1 - np.argmax(m[::-1] == 1)] = False  # final [SEP]
    undesired = ~ctx
    undesired[0] = False
    s = np.where(undesired, -10000.0, s)
    e = np.where(undesired, -10000.0, e)
    ps = np.exp(s - s.max())
    ps /= ps.sum()
    pe = np.exp(e - e.max())
    pe /= pe.sum()
    ps[0] = pe[0] = 0.0
    outer = np.triu(np.tril(np.outer(ps, pe), max_len - 1))
    i, j = np.unravel_index(np.argmax(outer), outer.shape)
    return int(i), int(j), float(outer[i, j])


def qa_predict(model, tok, question, context):
    enc = tok.encode(question, context)
    dev = next(model.parameters()).device
    ids = torch.tensor([enc["ids"]], device=dev)
    mask = torch.ones_like(ids)
    tt = torch.tensor([enc["type_ids"]], device=dev)
    with torch.no_grad():
        s, e = model(ids, mask, tt)
    i, j, score = best_span(s[0].cpu().numpy(), e[0].cpu().numpy(), enc["type_ids"], [1] * len(enc["ids"]))
    offs = enc["offsets"]
    return context[offs[i][0]:offs[j][1]], score, enc["tokens"][i:j + 1]


# ===================================================================== sentiment data

S_NOUNS_SG = "movie film book hotel restaurant meal food service room show concert game album phone " \
             "car trip class course app coffee pizza experience performance story product".split()
S_NOUNS_PL = "staff waiters people prices seats actors songs rooms drinks desserts graphics reviews".split()
S_NOUNS_HELDOUT_SG = "museum sandwich laptop podcast festival".split()
S_NOUNS_HELDOUT_PL = "nurses guides fries".split()
POS_ADJ = ("wonderful great excellent amazing fantastic delightful lovely superb good enjoyable brilliant "
           "pleasant friendly beautiful perfect awesome charming impressive outstanding fun helpful "
           "tasty fresh nice marvelous").split()
NEG_ADJ = ("terrible awful horrible bad boring disappointing rude dreadful poor mediocre unpleasant "
           "dirty slow ugly bland annoying useless painful noisy stale cold overpriced broken "
           "dull").split()
ADVS = "really very quite so truly incredibly extremely totally pretty".split()
ADVS_HELDOUT = "absolutely remarkably".split()
POS_VERB = ["loved", "liked", "enjoyed", "adored", "appreciated"]
NEG_VERB = ["hated", "disliked", "despised", "regretted"]
DETS = ["The", "This", "That", "Our", "My", "The"]


def make_sentiment_example(rng, heldout):
    """Returns (sentence, label) with label 1 = positive."""
    sg = S_NOUNS_HELDOUT_SG if heldout else S_NOUNS_SG
    pl = S_NOUNS_HELDOUT_PL if heldout else S_NOUNS_PL
    advs = ADVS_HELDOUT + ADVS if heldout else ADVS

    def noun_phrase():
        if rng.random() < 0.75:
            return rng.choice(DETS) + " " + rng.choice(sg), "was" if rng.random() < 0.7 else "is"
        return rng.choice(["The", "The", "Those", "These", "Our"]) + " " + rng.choice(pl), \
            "were" if rng.random() < 0.7 else "are"

    def adj(pol):
        return rng.choice(POS_ADJ if pol else NEG_ADJ)

    def maybe_adv(a):
        return (rng.choice(advs) + " " + a) if rng.random() < 0.5 else a

    def end():
        return rng.choice([".", ".", "!", "!!", ""])

    kind = rng.random()
    pol = rng.random() < 0.5
    if kind < 0.35:
        np_, cop = noun_phrase()
        if rng.random() < 0.2:  # negation flips the polarity
            s = f"{np_} {cop} not {maybe_adv(adj(not pol))}{end()}"
        else:
            s = f"{np_} {cop} {maybe_adv(adj(pol))}{end()}"
    elif kind < 0.5:
        v = rng.choice(POS_VERB if pol else NEG_VERB)
        obj = rng.choice(["the", "this", "that"]) + " " + rng.choice(sg + pl)
        r = rng.random()
        if r < 0.2:
            neg = rng.choice(["did not", "didn't", "did not"])
            v = rng.choice(["like", "enjoy", "love"]) if not pol else rng.choice(["hate", "dislike"])
            s = f"I {neg} {v} {obj}{end()}"
        elif r < 0.4:
            s = f"I {rng.choice(advs)} {v} {obj}{end()}"
        else:
            s = f"I {v} {obj}{end()}"
    elif kind < 0.7:  # two clauses, same polarity
        n1, c1 = noun_phrase()
        n2, c2 = noun_phrase()
        s = f"{n1} {c1} {maybe_adv(adj(pol))} and {n2[0].lower() + n2[1:]} {c2} {maybe_adv(adj(pol))}{end()}"
    elif kind < 0.8:  # contrast: the clause after "but" decides
        n1, c1 = noun_phrase()
        n2, c2 = noun_phrase()
        s = f"{n1} {c1} {maybe_adv(adj(not pol))} but {n2[0].lower() + n2[1:]} {c2} {maybe_adv(adj(pol))}{end()}"
    elif kind < 0.88:
        n = rng.choice(sg)
        if pol:
            s = rng.choice([f"I would {rng.choice(['', 'definitely ', 'highly '])}recommend this {n}{end()}",
                            f"I will come back to this {n} again{end()}"])
        else:
            s = rng.choice([f"I would {rng.choice(['not', 'never'])} recommend this {n}{end()}",
                            f"I will never come back to this {n}{end()}"])
    elif kind < 0.95:
        s = f"{rng.choice(['What a', 'Such a'])} {maybe_adv(adj(pol))} {rng.choice(sg)}{rng.choice(['!', '.', '!!'])}"
    else:
        s = f"{rng.choice(['Truly', 'Really', 'Simply', 'Just', 'So'])} {adj(pol)}{rng.choice(['!', '.'])}"
    s = s.replace("  ", " ")
    return s, int(pol)


def sentiment_batch(tok, rng, bs, exclude):
    ids, labels = [], []
    while len(ids) < bs:
        s, y = make_sentiment_example(rng, heldout=False)
        if s in exclude:
            continue
        ids.append(tok.encode(s)["ids"])
        labels.append(y)
    mask = [[1] * len(i) for i in ids]
    p = pad_batch(ids)
    return p, pad_batch(mask), [[0] * len(r) for r in p], labels


def sentiment_predict(model, tok, text):
    enc = tok.encode(text)
    ids = torch.tensor([enc["ids"]], device=next(model.parameters()).device)
    with torch.no_grad():
        logits = model(ids, torch.ones_like(ids), torch.zeros_like(ids))[0]
    p = torch.softmax(logits, -1)
    return int(p.argmax()), float(p.max())


# ========================================================================== training

def make_model(kind, seed, word_std, pos_std, heads, layers):
    torch.manual_seed(seed)
    cfg = BertConfig(**dict(CONFIG, num_attention_heads=heads, num_hidden_layers=layers))
    model = BertForQuestionAnswering(cfg) if kind == "qa" else BertForSequenceClassification(cfg, num_labels=2)
    init_weights(model, std=cfg.initializer_range, seed=seed)  # HF-like: N(0, 0.02), zero biases
    with torch.no_grad():  # larger word/position embeddings: distinct random vectors for untrained words
        g = torch.Generator().manual_seed(seed + 1)
        emb = model.bert.embeddings
        for w, std in [(emb.word_embeddings.weight, word_std), (emb.position_embeddings.weight, pos_std)]:
            w.copy_(torch.randn(w.shape, generator=g) * std)
        emb.word_embeddings.weight[cfg.pad_token_id].zero_()
    return model, cfg


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total - step) / (total - warmup))


class TrainRows:
    """Train only some rows of the word embedding matrix: the matrix is frozen and a
    small trainable delta is added to the rows in `ids` (same result as masking the
    gradient of the other rows, without a dense 30522 x hidden gradient and Adam state).
    fold() adds the delta into the matrix and removes the hook."""

    def __init__(self, emb, ids):
        self.emb = emb
        dev = emb.weight.device
        self.rowmap = torch.zeros(emb.num_embeddings, dtype=torch.long, device=dev)
        self.rowmap[torch.tensor(ids, device=dev)] = torch.arange(1, len(ids) + 1, device=dev)
        self.ids = torch.tensor(ids, device=dev)
        self.delta = nn.Parameter(torch.zeros(len(ids), emb.embedding_dim, device=dev))
        emb.weight.requires_grad_(False)
        self.handle = emb.register_forward_hook(self.hook)

    def hook(self, module, inputs, output):
        table = torch.cat([self.delta.new_zeros(1, self.delta.shape[1]), self.delta])
        return output + nn.functional.embedding(self.rowmap[inputs[0]], table)

    def fold(self):
        self.handle.remove()
        with torch.no_grad():
            self.emb.weight[self.ids] += self.delta
        self.emb.weight.requires_grad_(True)


def train_qa(tok, args, log, evaluate=None):
    steps, bs, seed, dev = args.qa_steps, args.batch_size, args.seed, args.device
    model, cfg = make_model("qa", seed, args.word_std, args.pos_std, args.heads, args.layers)
    model.to(dev)
    params = list(model.parameters())
    rows = None
    if not args.train_slot_embeddings:
        rows = TrainRows(model.bert.embeddings.word_embeddings, template_token_ids(tok))
        params = [p for p in model.parameters() if p.requires_grad] + [rows.delta]
    opt = torch.optim.Adam(params, lr=args.lr)
    model.train()
    t0 = time.time()
    data = batches(_qa_batch_i, steps, tok=tok, seed=seed, bs=bs, words=name_words(tok))
    for step, batch in enumerate(data):
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, steps, args.lr, 200)
        ids, mask, tt, st, en = (x.to(dev) for x in batch)
        s, e = model(ids, mask, tt)
        neg = (1 - mask) * -10000.0
        loss = (nn.functional.cross_entropy(s + neg, st) + nn.functional.cross_entropy(e + neg, en)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            log(f"qa step {step:5d} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
        if evaluate and args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < steps:
            model.eval()
            evaluate(model, step + 1)
            model.train()
    secs = time.time() - t0
    if rows is not None:
        rows.fold()
    model.eval()
    return model.cpu(), cfg, secs


def eval_qa(model, tok, n, seed, train_entities):
    rng = random.Random(seed)
    ent = Entities(rng, train=train_entities, words=name_words(tok) if train_entities else ())
    correct, per_kind, per_n = 0, {}, {}
    wrong = []
    for _ in range(n):
        ex = make_qa_example(rng, ent)
        pred, _, _ = qa_predict(model, tok, ex["question"], ex["context"])
        ok = pred == ex["answer"]
        correct += ok
        for d, key in ((per_kind, ex["kind"]), (per_n, "%d sentences" % ex["n_sentences"])):
            k = d.setdefault(key, [0, 0])
            k[0] += ok
            k[1] += 1
        if not ok and len(wrong) < 8:
            wrong.append({"question": ex["question"], "context": ex["context"], "answer": ex["answer"], "pred": pred})
    per_kind.update(per_n)
    return correct / n, {k: round(v[0] / v[1], 4) for k, v in sorted(per_kind.items())}, wrong


def train_sentiment(tok, args, log):
    steps, bs, seed, dev = args.sentiment_steps, args.sentiment_batch_size, args.seed, args.device
    model, cfg = make_model("sentiment", seed, SENTIMENT_WORD_STD, SENTIMENT_POS_STD, args.heads, args.layers)
    model.to(dev)
    lr = args.sentiment_lr
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    exclude = {s for s, _ in SENTIMENT_CHECKS}
    model.train()
    t0 = time.time()
    data = batches(_sentiment_batch_i, steps, tok=tok, seed=seed, bs=bs, exclude=exclude)
    for step, batch in enumerate(data):
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, steps, lr, 100)
        ids, mask, tt, y = (x.to(dev) for x in batch)
        logits = model(ids, mask, tt)
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            log(f"sentiment step {step:5d} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
    model.eval()
    return model.cpu(), cfg, time.time() - t0


def eval_sentiment(model, tok, n, seed, heldout):
    rng = random.Random(seed)
    correct, wrong = 0, []
    for _ in range(n):
        s, y = make_sentiment_example(rng, heldout=heldout)
        p, _ = sentiment_predict(model, tok, s)
        correct += p == y
        if p != y and len(wrong) < 8:
            wrong.append({"text": s, "label": LABELS[y]})
    return correct / n, wrong


LABELS = ["negative", "positive"]

# ============================================================================ output


def hf_config(cfg, arch, extra=None):
    c = {
        "architectures": [arch],
        "attention_probs_dropout_prob": cfg.attention_probs_dropout_prob,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": cfg.hidden_dropout_prob,
        "hidden_size": cfg.hidden_size,
        "initializer_range": cfg.initializer_range,
        "intermediate_size": cfg.intermediate_size,
        "layer_norm_eps": cfg.layer_norm_eps,
        "max_position_embeddings": cfg.max_position_embeddings,
        "model_type": "bert",
        "num_attention_heads": cfg.num_attention_heads,
        "num_hidden_layers": cfg.num_hidden_layers,
        "pad_token_id": cfg.pad_token_id,
        "position_embedding_type": "absolute",
        "type_vocab_size": cfg.type_vocab_size,
        "use_cache": True,
        "vocab_size": cfg.vocab_size,
    }
    c.update(extra or {})
    return dict(sorted(c.items()))


def write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


def write_model_dir(out, model, cfg, arch, vocab, extra=None):
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    write_json(os.path.join(out, "config.json"), hf_config(cfg, arch, extra))
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab), f, indent=2, ensure_ascii=False)  # as the hub file: indent 2
        f.write("\n")
    write_json(os.path.join(out, "tokenizer_config.json"), tokenizer_config(cfg.max_position_embeddings))
    ids = torch.tensor([[101, 2054, 2003, 2590, 102, 2009, 2003, 2590, 1012, 102]])
    tt = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1, 1]])
    path = os.path.join(out, "onnx", "model.onnx")
    export_onnx(model, path, OPSET, (ids, torch.ones_like(ids), tt))
    onnx.checker.check_model(onnx.load(path))
    return os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "demo"))
    ap.add_argument("--vocab", default=DEFAULT_VOCAB, help="bert-base-uncased vocab.txt (or a tokenizer.json)")
    ap.add_argument("--only", choices=["qa", "sentiment"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--qa-steps", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=64, help="QA batch size")
    ap.add_argument("--lr", type=float, default=3e-3, help="QA peak learning rate")
    ap.add_argument("--word-std", type=float, default=0.02, help="QA: init std of the word embeddings")
    ap.add_argument("--pos-std", type=float, default=0.02, help="QA: init std of the position embeddings")
    ap.add_argument("--sentiment-steps", type=int, default=1500)
    ap.add_argument("--sentiment-batch-size", type=int, default=32)
    ap.add_argument("--sentiment-lr", type=float, default=1e-3)
    ap.add_argument("--train-slot-embeddings", action="store_true",
                    help="QA: also train the embedding rows of slot fillers (default: template words only)")
    ap.add_argument("--n-eval", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=0, help="QA: also evaluate every N steps")
    ap.add_argument("--heads", type=int, default=CONFIG["num_attention_heads"])
    ap.add_argument("--layers", type=int, default=CONFIG["num_hidden_layers"])
    ap.add_argument("--max-distractors", type=int, default=QA_DATA["max_distractors"])
    ap.add_argument("--same-template-p", type=float, default=QA_DATA["same_template_p"],
                    help="QA: probability that a distractor sentence uses the answer's template")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a busy 2-core machine 2 threads were ~3x slower; the data "
                         "worker process uses the other core)")
    ap.add_argument("--device", default="cpu", help="for experiments; the committed models are trained on cpu")
    ap.add_argument("--no-write", action="store_true", help="train and evaluate only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    QA_DATA.update(max_distractors=args.max_distractors, same_template_p=args.same_template_p)
    if args.device == "cpu":
        torch.use_deterministic_algorithms(True)

    def log(msg):
        print(msg, flush=True)

    vocab = load_vocab(args.vocab)
    tok = BertUncasedTokenizer(vocab)
    os.makedirs(args.out, exist_ok=True)
    mpath = os.path.join(args.out, "metrics.json")
    metrics = {}
    if os.path.exists(mpath):
        with open(mpath) as f:
            metrics = json.load(f)
    failures = []

    if args.only in (None, "qa"):
        def evaluate(m, step):
            a_tr, _, _ = eval_qa(m, tok, args.n_eval, 1001, train_entities=True)
            a_ho, kinds, _ = eval_qa(m, tok, args.n_eval, 1002, train_entities=False)
            log(f"qa eval at step {step}: train-pool {a_tr:.4f} held-out {a_ho:.4f} {kinds}")

        model, cfg, secs = train_qa(tok, args, log, evaluate)
        pred, score, toks = qa_predict(model, tok, SEED_QUESTION, SEED_CONTEXT)
        log(f"seed example: {pred!r} score {score:.4f} tokens {toks}")
        if pred != SEED_ANSWER:
            failures.append(f"qa seed example: got {pred!r}")
        acc_train, kinds_train, _ = eval_qa(model, tok, args.n_eval, 1001, train_entities=True)
        acc_held, kinds_held, wrong = eval_qa(model, tok, args.n_eval, 1002, train_entities=False)
        log(f"qa accuracy: fresh examples with training-pool entities {acc_train:.4f}; "
            f"held-out entities {acc_held:.4f} {kinds_held}")
        for w in wrong:
            log(f"  wrong: {w}")
        if acc_held < QA_MIN_HELDOUT:
            failures.append(f"qa held-out accuracy {acc_held:.4f} < {QA_MIN_HELDOUT}")
        size = None if args.no_write else write_model_dir(os.path.join(args.out, "qa"), model, cfg,
                                                           "BertForQuestionAnswering", vocab)
        metrics["qa"] = {
            "train_seconds": round(secs, 1), "steps": args.qa_steps, "batch_size": args.batch_size,
            "lr": args.lr, "word_std": args.word_std, "pos_std": args.pos_std, "threads": args.threads,
            "max_distractors": args.max_distractors, "same_template_p": args.same_template_p,
            "seed_example": {"question": SEED_QUESTION, "context": SEED_CONTEXT, "predicted": pred,
                             "score": round(score, 4), "tokens": toks},
            "exact_match_fresh_train_pool": acc_train, "exact_match_heldout": acc_held,
            "exact_match_heldout_by_kind": kinds_held, "n_eval": args.n_eval, "onnx_bytes": size,
        }

    if args.only in (None, "sentiment"):
        model, cfg, secs = train_sentiment(tok, args, log)
        checks = []
        for text, label in SENTIMENT_CHECKS:
            p, conf = sentiment_predict(model, tok, text)
            log(f"{text!r} -> {LABELS[p]} ({conf:.4f})")
            checks.append({"text": text, "predicted": LABELS[p], "probability": round(conf, 4)})
            if LABELS[p] != label:
                failures.append(f"sentiment check {text!r}: got {LABELS[p]}")
        acc_train, _ = eval_sentiment(model, tok, args.n_eval, 2001, heldout=False)
        acc_held, wrong = eval_sentiment(model, tok, args.n_eval, 2002, heldout=True)
        log(f"sentiment accuracy: fresh training-template sentences {acc_train:.4f}; held-out nouns/adverbs "
            f"{acc_held:.4f}")
        for w in wrong:
            log(f"  wrong: {w}")
        if acc_held < SENTIMENT_MIN_HELDOUT:
            failures.append(f"sentiment held-out accuracy {acc_held:.4f} < {SENTIMENT_MIN_HELDOUT}")
        size = None if args.no_write else write_model_dir(
            os.path.join(args.out, "sentiment"), model, cfg, "BertForSequenceClassification",
            vocab, {"id2label": {"0": "negative", "1": "positive"},
                                       "label2id": {"negative": 0, "positive": 1},
                                       "problem_type": "single_label_classification"})
        metrics["sentiment"] = {
            "train_seconds": round(secs, 1), "steps": args.sentiment_steps,
            "batch_size": args.sentiment_batch_size, "lr": args.sentiment_lr,
            "word_std": SENTIMENT_WORD_STD, "pos_std": SENTIMENT_POS_STD, "threads": args.threads,
            "checks": checks, "accuracy_fresh_train_templates": acc_train, "accuracy_heldout": acc_held,
            "n_eval": args.n_eval, "onnx_bytes": size,
        }

    if not args.no_write:
        write_json(mpath, metrics)
    if failures:
        for f in failures:
            log("CHECK FAILED: " + f)
        sys.exit(1)
    log("all checks passed")


if __name__ == "__main__":
    main()
