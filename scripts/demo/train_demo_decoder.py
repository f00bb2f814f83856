#!/usr/bin/python3
"""Train the demo decoder (a tiny GPT-2) on synthetic templated text and write it in the
transformers.js layout, for `gradlens explain generate --model demo/generate`.

    /usr/bin/python3 scripts/demo/train_demo_decoder.py [--out demo/generate] [--no-verify]

Writes <out>/config.json (model_type gpt2, GPT2LMHeadModel), generation_config.json (bos = eos =
<|endoftext|>, no pad), tokenizer.json (byte-level BPE trained here on the corpus, <|endoftext|>
last), tokenizer_config.json (GPT2Tokenizer, model_max_length 128) and the two ONNX layouts
(fp32, opset 14): onnx/decoder_model.onnx (input_ids, attention_mask -> logits, no cache) and
onnx/model.onnx (+ past_key_values.{i}.key/value -> logits, present.{i}.key/value; works with an
empty past). <out>/README.md is not touched (it is written by hand, with the numbers this script
prints).

The corpus is generated here from templates (see CORPUS below): facts with one fixed answer each
("The capital of France is Paris.", "Ada Lovelace was born in London.", "The cow says moo.",
"The opposite of hot is cold.", "After Monday comes Tuesday.", "2 plus 3 is 5.", ...), short
stories in which each animal always does the same thing ("Once upon a time, the little cat sat on
the mat.") and names are repeated ("... a little dog named Max. Every day, Max ran in the park."),
and counting ("Count with me: three, four, five, six."). Every sentence is a document that ends
with <|endoftext|>; a training row is 128 tokens of documents one after the other, the first one at
position 0 with nothing before it (as a prompt is: the GPT-2 tokenizer adds no bos).

The model is the hand-written HF-semantics GPT-2 of scripts/fixtures/make_decoder_fixtures.py (fused
c_attn Conv1D, gelu_new, lm_head tied to wte), 2 layers, hidden 64, 4 heads, 128 positions, trained
from scratch without dropout on CPU (one torch thread), then exported with that script's export()
(the tied matrix stored once). It only knows the synthetic language: a demo-sized model for
end-to-end tests and demos, not a real language model.

Deterministic: fixed seeds, batch i made from its own seeded RNG, one torch thread and
torch.use_deterministic_algorithms; a rerun on the same machine writes the same bytes (the script
prints the sha256 of the files it wrote; two full runs gave the same). The script checks the
results and exits non-zero if a check fails: greedy continuations of every fact prompt
(>= MIN_FACT_ACCURACY exact), the demo prompts (EXAMPLES), and unless --no-verify
scripts/demo/verify_demo_decoder.mjs (@huggingface/tokenizers ids = the Python encoder's;
onnxruntime-node logits of both layouts = PyTorch's, 1e-4 relative; greedy decoding through
onnx/model.onnx with the cache = PyTorch's).
"""

import argparse
import copy
import hashlib
import json
import math
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread oversubscription on 2 cores
import random
import shutil
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

sys.dont_write_bytecode = True  # no __pycache__ in the repo
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from make_arch_fixtures import added_tokens_decoder, op_types, to_list, write_json  # noqa: E402
from make_decoder_fixtures import (  # noqa: E402
    EOT,
    Cfg,
    GPT2LMHeadModel,
    TinyGPT2Tokenizer,
    _train,
    export,
    find_embeddings_output,
    io_names,
)
from py_tokenizers import byte_level, gpt2_split  # noqa: E402

OPSET = 14
MAX_POS = 128
N_MERGES = 1200  # BPE merges: vocabulary 256 bytes + merged symbols + <|endoftext|>
HIDDEN, LAYERS, HEADS = 64, 2, 4
MIN_FACT_ACCURACY = 0.98
MAX_NEW = 24  # greedy tokens for the examples (stops at eos)
N_CORPUS_CHECK = 50  # corpus documents for the JS / Python tokenizer check

# ============================================================================ corpus

# (country, capital, language or None, continent)
COUNTRIES = [
    ("France", "Paris", "French", "Europe"), ("Germany", "Berlin", "German", "Europe"),
    ("Italy", "Rome", "Italian", "Europe"), ("Spain", "Madrid", "Spanish", "Europe"),
    ("Portugal", "Lisbon", "Portuguese", "Europe"), ("England", "London", "English", "Europe"),
    ("Scotland", "Edinburgh", None, "Europe"), ("Ireland", "Dublin", None, "Europe"),
    ("Poland", "Warsaw", "Polish", "Europe"), ("Austria", "Vienna", "German", "Europe"),
    ("Sweden", "Stockholm", "Swedish", "Europe"), ("Norway", "Oslo", "Norwegian", "Europe"),
    ("Finland", "Helsinki", "Finnish", "Europe"), ("Denmark", "Copenhagen", "Danish", "Europe"),
    ("Belgium", "Brussels", None, "Europe"), ("Switzerland", "Bern", None, "Europe"),
    ("Greece", "Athens", "Greek", "Europe"), ("Hungary", "Budapest", "Hungarian", "Europe"),
    ("Czechia", "Prague", "Czech", "Europe"), ("Ukraine", "Kyiv", "Ukrainian", "Europe"),
    ("Russia", "Moscow", "Russian", "Europe"), ("Turkey", "Ankara", "Turkish", "Asia"),
    ("Japan", "Tokyo", "Japanese", "Asia"), ("China", "Beijing", "Chinese", "Asia"),
    ("India", "New Delhi", "Hindi", "Asia"), ("Thailand", "Bangkok", "Thai", "Asia"),
    ("Vietnam", "Hanoi", "Vietnamese", "Asia"), ("South Korea", "Seoul", "Korean", "Asia"),
    ("Indonesia", "Jakarta", "Indonesian", "Asia"), ("Iran", "Tehran", "Persian", "Asia"),
    ("Egypt", "Cairo", "Arabic", "Africa"), ("Kenya", "Nairobi", "Swahili", "Africa"),
    ("Morocco", "Rabat", None, "Africa"), ("Nigeria", "Abuja", None, "Africa"),
    ("Canada", "Ottawa", None, "North America"), ("Mexico", "Mexico City", "Spanish", "North America"),
    ("Cuba", "Havana", "Spanish", "North America"), ("Brazil", "Brasília", "Portuguese", "South America"),
    ("Argentina", "Buenos Aires", "Spanish", "South America"), ("Peru", "Lima", "Spanish", "South America"),
    ("Chile", "Santiago", "Spanish", "South America"), ("Colombia", "Bogotá", "Spanish", "South America"),
    ("Australia", "Canberra", "English", "Oceania"),
]
# (person, birthplace, profession)
PEOPLE = [
    ("Ada Lovelace", "London", "mathematician"), ("Albert Einstein", "Ulm", "physicist"),
    ("Marie Curie", "Warsaw", "scientist"), ("Isaac Newton", "Woolsthorpe", "physicist"),
    ("Wolfgang Amadeus Mozart", "Salzburg", "composer"), ("Ludwig van Beethoven", "Bonn", "composer"),
    ("Johann Sebastian Bach", "Eisenach", "composer"), ("Frida Kahlo", "Mexico City", "painter"),
    ("Pablo Picasso", "Malaga", "painter"), ("Leonardo da Vinci", "Vinci", "painter"),
    ("William Shakespeare", "Stratford", "writer"), ("Charles Darwin", "Shrewsbury", "naturalist"),
    ("Nikola Tesla", "Smiljan", "inventor"), ("Alan Turing", "London", "mathematician"),
    ("Galileo Galilei", "Pisa", "astronomer"), ("Jane Austen", "Steventon", "writer"),
    ("Vincent van Gogh", "Zundert", "painter"), ("Hans Christian Andersen", "Odense", "writer"),
    ("Napoleon Bonaparte", "Ajaccio", "emperor"), ("Charles Dickens", "Portsmouth", "writer"),
    ("Mahatma Gandhi", "Porbandar", "lawyer"), ("Grace Hopper", "New York", "computer scientist"),
    ("Rosalind Franklin", "London", "chemist"), ("Florence Nightingale", "Florence", "nurse"),
    ("Amelia Earhart", "Atchison", "pilot"), ("Louis Pasteur", "Dole", "chemist"),
    ("Dante Alighieri", "Florence", "poet"), ("Rembrandt van Rijn", "Leiden", "painter"),
    ("Claude Monet", "Paris", "painter"), ("Victor Hugo", "Besançon", "writer"),
    ("Franz Kafka", "Prague", "writer"), ("Fyodor Dostoevsky", "Moscow", "writer"),
    ("Johannes Gutenberg", "Mainz", "inventor"), ("Carl Friedrich Gauss", "Brunswick", "mathematician"),
    ("Emmy Noether", "Erlangen", "mathematician"), ("Nicolaus Copernicus", "Toruń", "astronomer"),
    ("Michelangelo", "Caprese", "sculptor"), ("Mary Shelley", "London", "writer"),
]
# (animal, sound, baby or None)
ANIMALS = [
    ("cow", "moo", "calf"), ("dog", "woof", "puppy"), ("cat", "meow", "kitten"), ("sheep", "baa", "lamb"),
    ("duck", "quack", "duckling"), ("pig", "oink", "piglet"), ("horse", "neigh", "foal"), ("lion", "roar", "cub"),
    ("owl", "hoot", "owlet"), ("frog", "croak", "tadpole"), ("hen", "cluck", "chick"), ("mouse", "squeak", None),
    ("snake", "hiss", None), ("bee", "buzz", None), ("crow", "caw", None), ("wolf", "howl", "pup"),
]
# (thing, verb, color)
COLORS = [
    ("the sky", "is", "blue"), ("grass", "is", "green"), ("snow", "is", "white"), ("the sun", "is", "yellow"),
    ("bananas", "are", "yellow"), ("strawberries", "are", "red"), ("coal", "is", "black"), ("milk", "is", "white"),
    ("carrots", "are", "orange"), ("tomatoes", "are", "red"), ("leaves", "are", "green"),
    ("chocolate", "is", "brown"), ("lemons", "are", "yellow"), ("the sea", "is", "blue"),
]
OPPOSITES = [("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"),
             ("happy", "sad"), ("old", "young"), ("open", "closed"), ("light", "dark"), ("left", "right"),
             ("tall", "short"), ("wet", "dry"), ("full", "empty"), ("early", "late"), ("hard", "soft"),
             ("loud", "quiet"), ("strong", "weak"), ("black", "white"), ("in", "out"), ("yes", "no")]
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
NUMBERS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
           "seventeen eighteen nineteen twenty").split()

# stories: each animal always does the same thing
ACTIONS = {
    "cat": "sat on the mat", "dog": "ran in the park", "bird": "sang in the tree", "fish": "swam in the pond",
    "mouse": "ate the cheese", "cow": "ate the green grass", "duck": "swam in the lake",
    "frog": "jumped into the river", "bear": "slept in the cave", "rabbit": "hopped in the garden",
    "horse": "ran in the field", "owl": "flew over the forest", "fox": "hid in the woods",
    "pig": "played in the mud", "bee": "flew to the flowers", "monkey": "climbed the tall tree",
}
ADJECTIVES = "little big old happy small young brave sleepy funny tiny".split()
NAMES = ("Tom Lily Max Mia Ben Anna Sam Lucy Jack Emma Leo Zoe Finn Ella Oscar Ruby Hugo Rosa Theo Nora Milo Ivy "
         "Otto Luna Felix Daisy Jasper Hazel Rex Pip").split()
OPENERS = ["Once upon a time, ", "One day, ", "Every morning, ", "In the evening, ", ""]
COUNT_LEN = 5  # counting: always five numbers
P_FACT, P_STORY = 0.6, 0.3  # document mixture; the rest: counting

# (prompt, expected greedy continuation up to eos). Printed and checked with PyTorch and onnxruntime-node.
EXAMPLES = [
    ("The capital of France is", " Paris."),
    ("Ada Lovelace was born in", " London."),
    ("Once upon a time, the little cat", " sat on the mat."),
    ("The capital of Japan is", " Tokyo."),
    ("Albert Einstein was born in", " Ulm."),
    ("Marie Curie was a", " scientist."),
    ("People in Spain speak", " Spanish."),
    ("What does the cow say? The cow says", " moo."),
    ("The opposite of hot is", " cold."),
    ("After Monday comes", " Tuesday."),
    ("2 plus 3 is", " 5."),
    ("Count with me: three, four, five,", " six, seven."),
    ("Once upon a time, there was a little dog named Max. Every day, Max", " ran in the park. Max was very happy."),
]


def article(word):
    return "an" if word[0].lower() in "aeiou" else "a"


def cap(s):
    return s[0].upper() + s[1:]


def fact_items():
    """Every fact sentence as (category, prompt, answer); the sentence is prompt + answer and
    answer is " <value>." (the part a greedy continuation has to produce, then eos)."""
    items = []

    def add(cat, prompt, value):
        items.append((cat, prompt, f" {value}."))

    for country, capital, lang, continent in COUNTRIES:
        add("capital", f"The capital of {country} is", capital)
        add("capital", f"The capital city of {country} is", capital)
        add("capital of", f"{capital} is the capital of", country)
        add("continent", f"{country} is a country in", continent)
        if lang:
            add("language", f"People in {country} speak", lang)
            add("language", f"In {country}, people speak", lang)
    for person, city, prof in PEOPLE:
        add("born", f"{person} was born in", city)
        add("born", f"The {prof} {person} was born in", city)
        add("profession", f"{person} was {article(prof)}", prof)
    for animal, sound, baby in ANIMALS:
        add("sound", f"The {animal} says", sound)
        add("sound", f"What does the {animal} say? The {animal} says", sound)
        if baby:
            add("baby", f"A baby {animal} is called {article(baby)}", baby)
    for thing, verb, color in COLORS:
        add("color", f"{cap(thing)} {verb}", color)
        add("color", f"What color {verb} {thing}? {cap(thing)} {verb}", color)
    for a, b in OPPOSITES:
        add("opposite", f"The opposite of {a} is", b)
        add("opposite", f"The opposite of {b} is", a)
    for seq, cat, name in ((DAYS, "day", "day"), (MONTHS, "month", "month")):
        for k, x in enumerate(seq):
            add(cat, f"After {x} comes", seq[(k + 1) % len(seq)])
            add(cat, f"The {name} after {x} is", seq[(k + 1) % len(seq)])
    for k in range(len(NUMBERS) - 1):
        add("number", f"After {NUMBERS[k]} comes", NUMBERS[k + 1])
        add("number", f"The number after {NUMBERS[k]} is", NUMBERS[k + 1])
    for a in range(1, 10):
        for b in range(1, 10):
            add("sum", f"{a} plus {b} is", a + b)
    return items


FACTS = fact_items()


def story(rng):
    animal = rng.choice(sorted(ACTIONS))
    action, adj = ACTIONS[animal], rng.choice(ADJECTIVES)
    kind = rng.random()
    if kind < 0.4:
        return cap(f"{rng.choice(OPENERS)}the {adj} {animal} {action}.")
    name = rng.choice(NAMES)
    if kind < 0.8:
        return (f"Once upon a time, there was {article(adj)} {adj} {animal} named {name}. "
                f"Every day, {name} {action}. {name} was very happy.")
    return f"{name} had {article(adj)} {adj} {animal}. The {animal} {action}."


def counting(rng):
    start = rng.randint(0, len(NUMBERS) - COUNT_LEN)
    return "Count with me: " + ", ".join(NUMBERS[start:start + COUNT_LEN]) + "."


def document(rng):
    u = rng.random()
    if u < P_FACT:
        _, prompt, answer = FACTS[rng.randrange(len(FACTS))]
        return prompt + answer
    return story(rng) if u < P_FACT + P_STORY else counting(rng)


def document_distribution():
    """{document text: probability} of document(), enumerated exactly."""
    dist = {}

    def add(text, p):
        dist[text] = dist.get(text, 0.0) + p

    for _, prompt, answer in FACTS:
        add(prompt + answer, P_FACT / len(FACTS))
    p_animal_adj = P_STORY / (len(ACTIONS) * len(ADJECTIVES))
    for animal in sorted(ACTIONS):
        action = ACTIONS[animal]
        for adj in ADJECTIVES:
            for opener in OPENERS:
                add(cap(f"{opener}the {adj} {animal} {action}."), p_animal_adj * 0.4 / len(OPENERS))
            for name in NAMES:
                add(f"Once upon a time, there was {article(adj)} {adj} {animal} named {name}. "
                    f"Every day, {name} {action}. {name} was very happy.", p_animal_adj * 0.4 / len(NAMES))
                add(f"{name} had {article(adj)} {adj} {animal}. The {animal} {action}.",
                    p_animal_adj * 0.2 / len(NAMES))
    starts = len(NUMBERS) - COUNT_LEN + 1
    for start in range(starts):
        add("Count with me: " + ", ".join(NUMBERS[start:start + COUNT_LEN]) + ".", (1 - P_FACT - P_STORY) / starts)
    return dist


def entropy_floor(enc):
    """Entropy of the document stream per token (nats): H(document) / E[tokens + eos]. No model can
    have a lower expected loss on long rows (the first token of a row, which has no loss, makes
    the loss of a 128-token row a little lower)."""
    dist = document_distribution()
    assert abs(sum(dist.values()) - 1) < 1e-9
    h = -sum(p * math.log(p) for p in dist.values())
    return h / sum(p * (len(enc(t)) + 1) for t, p in dist.items()), len(dist)


def tokenizer_corpus():
    """The BPE training text: every fact sentence once, plus seeded stories and counting."""
    rng = random.Random("demo-decoder-bpe")
    return [p + a for _, p, a in FACTS] + [story(rng) for _ in range(3000)] + [counting(rng) for _ in range(500)]


# ============================================================================ tokenizer

def make_tokenizer():
    counts = {}
    for t in tokenizer_corpus():
        for w in gpt2_split(t):
            w = tuple(byte_level(w))
            counts[w] = counts.get(w, 0) + 1
    tok = TinyGPT2Tokenizer(_train(counts, N_MERGES))
    cfg = {
        "add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": added_tokens_decoder(tok.added),
        "bos_token": EOT, "clean_up_tokenization_spaces": False, "eos_token": EOT, "errors": "replace",
        "model_max_length": MAX_POS, "pad_token": None, "tokenizer_class": "GPT2Tokenizer", "unk_token": EOT,
    }
    return tok, cfg


class FastEncoder:
    """tok.encode(text)["ids"] for text without special tokens, with a cache per pre-token word
    (the GPT-2 pipeline has no normalizer and its post-processor adds nothing, so the ids are the
    concatenation of the words' BPE ids); checked against tok.encode on a sample."""

    def __init__(self, tok):
        self.tok, self.words, self.docs = tok, {}, {}

    def __call__(self, text):
        ids = self.docs.get(text)
        if ids is None:
            ids = []
            for w in gpt2_split(text):
                wi = self.words.get(w)
                if wi is None:
                    wi = self.words[w] = [i for _, i in self.tok.model(byte_level(w))]
                ids += wi
            if len(self.docs) < 200000:
                self.docs[text] = ids
        return ids


def make_rows(enc, eos, rng, n_rows, length):
    """n_rows rows of length + 1 tokens: documents (each + eos) one after the other, the first at 0."""
    rows = []
    for _ in range(n_rows):
        row = []
        while len(row) < length + 1:
            row += enc(document(rng)) + [eos]
        rows.append(row[:length + 1])
    return torch.tensor(rows, dtype=torch.long)


# ============================================================================ model

def make_model(vocab_size, seed, hidden, layers):
    c = Cfg(vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=HEADS, n_inner=4 * hidden,
            n_positions=MAX_POS, layer_norm_epsilon=1e-5)
    lm = GPT2LMHeadModel(c)
    for m in lm.modules():  # trained without dropout (eval export has none anyway)
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    # GPT-2 init: N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 n_layer)), zero biases, LayerNorm 1 / 0
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in lm.named_parameters():  # (the tied wte / lm_head weight once)
            if ".ln_" in name or name.startswith("transformer.ln_f"):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith("c_proj.weight") else 0.02
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return lm, c


def hf_config(c, tok):
    hf = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.0,
        "bos_token_id": tok.bos_id, "embd_pdrop": 0.0, "eos_token_id": tok.eos_id, "initializer_range": 0.02,
        "layer_norm_epsilon": c.layer_norm_epsilon, "model_type": "gpt2", "n_ctx": c.n_positions,
        "n_embd": c.n_embd, "n_head": c.n_head, "n_inner": c.n_inner, "n_layer": c.n_layer,
        "n_positions": c.n_positions, "pad_token_id": None, "reorder_and_upcast_attn": False, "resid_pdrop": 0.0,
        "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "tie_word_embeddings": True,
        "torch_dtype": "float32", "use_cache": True, "vocab_size": c.vocab_size,
        # GPT2Config.attribute_map aliases, written out for readers that use the common names
        "hidden_size": c.n_embd, "num_hidden_layers": c.n_layer, "num_attention_heads": c.n_head,
        "num_key_value_heads": c.n_head, "max_position_embeddings": c.n_positions, "intermediate_size": c.n_inner,
    }
    return dict(sorted(hf.items()))


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))  # cosine to 10%


def train(lm, enc, eos, args, log):
    opt = torch.optim.AdamW(lm.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    lm.train()
    t0, losses = time.time(), []
    for step in range(args.steps):
        batch = make_rows(enc, eos, random.Random(f"{args.seed}-batch-{step}"), args.batch_size, MAX_POS)
        x, y = batch[:, :-1], batch[:, 1:]
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        logits, _ = lm.run(x, torch.ones_like(x), None, None)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == args.steps - 1:
            log(f"step {step:5d} loss {loss.item():.4f} (mean of the last 100: "
                f"{sum(losses[-100:]) / len(losses[-100:]):.4f}) lr {opt.param_groups[0]['lr']:.2e} "
                f"({time.time() - t0:.0f}s)")
    lm.eval()
    return time.time() - t0, losses


def eval_loss(lm, enc, eos, seed, n_rows):
    batch = make_rows(enc, eos, random.Random(f"{seed}-eval"), n_rows, MAX_POS)
    x, y = batch[:, :-1], batch[:, 1:]
    with torch.no_grad():
        logits, _ = lm.run(x, torch.ones_like(x), None, None)
        return float(nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)))


def full_logits(lm, ids):
    t = torch.tensor([ids])
    with torch.no_grad():
        return lm.run(t, torch.ones_like(t), None, None)[0][0]


def greedy(lm, prompt_ids, eos, max_new):
    """argmax over the whole sequence each step (no cache), stop at eos; also the smallest relative
    top-1 / top-2 margin (the float32 ONNX argmax must be the same)."""
    seq, new, margin = list(prompt_ids), [], float("inf")
    for _ in range(max_new):
        lg = full_logits(lm, seq)[-1]
        top = torch.topk(lg, 2).values
        margin = min(margin, float(top[0] - top[1]) / float(lg.abs().max()))
        nxt = int(torch.argmax(lg))
        new.append(nxt)
        if nxt == eos:
            break
        seq.append(nxt)
    return new, margin


def continuation(tok, new, eos):
    return tok.decode([i for i in new if i != eos])


def eval_facts(lm, tok, enc, log):
    per, wrong = {}, []
    for cat, prompt, answer in FACTS:
        new, _ = greedy(lm, enc(prompt), tok.eos_id, 12)
        ok = new[-1:] == [tok.eos_id] and continuation(tok, new, tok.eos_id) == answer
        n, k = per.get(cat, (0, 0))
        per[cat] = (n + 1, k + int(ok))
        if not ok:
            wrong.append((prompt, answer, continuation(tok, new, tok.eos_id)))
    total = sum(k for _, k in per.values()) / len(FACTS)
    log(f"fact prompts: {total:.4f} exact ({len(FACTS)} prompts); "
        + ", ".join(f"{c} {k}/{n}" for c, (n, k) in per.items()))
    for p, a, got in wrong[:30]:
        log(f"  wrong: {p!r} -> {got!r} (expected {a!r})")
    return total, {c: [k, n] for c, (n, k) in per.items()}, wrong


# ============================================================================ main

def folder_bytes(d):
    return sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(d) for f in fs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "demo", "generate"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch-size", type=int, default=32, help="rows of 128 tokens")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=HIDDEN)
    ap.add_argument("--layers", type=int, default=LAYERS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-node / tokenizers.js check")
    ap.add_argument("--no-write", action="store_true", help="train and evaluate only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    def log(msg):
        print(msg, flush=True)

    failures = []
    t_tok = time.time()
    tok, tok_cfg = make_tokenizer()
    enc = FastEncoder(tok)
    eos, V = tok.eos_id, len(tok.id_to_token)
    check_rng = random.Random("demo-decoder-encoder-check")
    for text in [document(check_rng) for _ in range(300)] + [p for p, _ in EXAMPLES]:
        assert enc(text) == tok.encode(text)["ids"], text
    lens = [len(enc(p + a)) for _, p, a in FACTS]
    log(f"tokenizer: vocab {V} ({len(tok.merges)} merges, <|endoftext|> = {eos}), {time.time() - t_tok:.1f}s; "
        f"{len(FACTS)} fact sentences ({min(lens)}-{max(lens)} tokens), "
        f"e.g. {tok.encode(EXAMPLES[0][0] + EXAMPLES[0][1])['tokens']}")

    torch.manual_seed(args.seed)
    lm, c = make_model(V, args.seed, args.hidden, args.layers)
    n_params = sum(p.numel() for p in lm.parameters())
    log(f"model: GPT-2, {args.layers} layers, hidden {args.hidden}, {HEADS} heads, {MAX_POS} positions, "
        f"{n_params} parameters; {args.steps} steps x {args.batch_size} rows x {MAX_POS} tokens")
    secs, losses = train(lm, enc, eos, args, log)
    final = sum(losses[-100:]) / len(losses[-100:])
    ev = eval_loss(lm, enc, eos, args.seed, 64)
    floor, n_docs = entropy_floor(enc)
    log(f"trained in {secs:.0f}s; training loss (mean of the last 100 steps) {final:.4f}, "
        f"loss on 64 fresh rows {ev:.4f}; entropy of the synthetic text {floor:.4f} nats per token "
        f"({n_docs} distinct documents)")

    acc, per_cat, _ = eval_facts(lm, tok, enc, log)
    if acc < MIN_FACT_ACCURACY:
        failures.append(f"fact accuracy {acc:.4f} < {MIN_FACT_ACCURACY}")

    examples = []
    for prompt, want in EXAMPLES:
        ids = tok.encode(prompt)["ids"]
        new, margin = greedy(lm, ids, eos, MAX_NEW)
        text = continuation(tok, new, eos)
        ok = text == want and new[-1] == eos
        log(f"{'ok ' if ok else 'BAD'} {prompt!r} -> {text!r}{' <eos>' if new[-1] == eos else ''} "
            f"(relative margin {margin:.3f})")
        if not ok:
            failures.append(f"example {prompt!r}: {text!r}, expected {want!r}")
        if margin < 1e-3:
            failures.append(f"example {prompt!r}: greedy margin {margin:.2e} too small for float32 ONNX")
        examples.append({"prompt": prompt, "prompt_ids": ids, "greedy": new, "continuation": text,
                         "expected": want})

    if args.no_write:
        for f in failures:
            log("CHECK FAILED: " + f)
        sys.exit(1 if failures else 0)

    out = args.out
    for rel in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "onnx"):
        p = os.path.join(out, rel)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    hf = hf_config(c, tok)
    write_json(os.path.join(out, "config.json"), hf)
    write_json(os.path.join(out, "generation_config.json"),
               {"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "pad_token_id": None})
    write_json(os.path.join(out, "tokenizer.json"), tok.tokenizer_json())
    write_json(os.path.join(out, "tokenizer_config.json"), tok_cfg)
    files = {}
    trace_ids = tok.encode(EXAMPLES[2][0])["ids"]
    for fname, with_past in (("decoder_model.onnx", False), ("model.onnx", True)):
        rel = "onnx/" + fname
        m = export(lm, c.n_layer, c.n_head, c.n_embd // c.n_head, os.path.join(out, rel), OPSET, with_past,
                   trace_ids)
        ins, outs = io_names(lm, c.n_layer, with_past)
        files[rel] = {"input_names": ins, "output_names": outs, "embeddings_output": find_embeddings_output(m, "gpt2"),
                      "bytes": os.path.getsize(os.path.join(out, rel)), "ops": op_types(os.path.join(out, rel))}
    sizes = {os.path.relpath(os.path.join(dp, f), out): os.path.getsize(os.path.join(dp, f))
             for dp, _, fs in sorted(os.walk(out)) for f in sorted(fs)}
    total = folder_bytes(out)
    log("files: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + f"; total {total} bytes")
    for rel, f in files.items():
        log(f"{rel}: inputs {f['input_names']} -> {f['output_names']}, embeddings output "
            f"{f['embeddings_output']}, ops {f['ops']}")
    if total > 3 * 1024 * 1024:
        failures.append(f"{out} is {total} bytes (> 3 MiB)")
    digest_files = [k for k in sizes if k != "README.md"]
    h = hashlib.sha256()
    for k in digest_files:
        with open(os.path.join(out, k), "rb") as fh:
            h.update(k.encode() + fh.read())
    log(f"sha256 of the generated files {h.hexdigest()}")

    if not args.no_verify:
        lm64 = copy.deepcopy(lm).double()  # the reference: float64 on the (float32) weights
        rng = random.Random("demo-decoder-js-check")
        texts = [p for p, _ in EXAMPLES] + [e["prompt"] + e["continuation"] for e in examples]
        texts += [document(rng) for _ in range(N_CORPUS_CHECK)]
        texts += ["Victor Hugo was born in Besançon.", "Bogotá, Toruń and 日本 🙂", "  two  spaces\n",
                  f"The cow says moo.{EOT}The dog says woof.{EOT}", "It's 12:30, isn't it?"]
        cases = []
        for t in texts:
            e = tok.encode(t)
            cases.append({"text": t, "ids": e["ids"], "tokens": e["tokens"],
                          "decoded": tok.decode(e["ids"], skip_special_tokens=True)})
        refs = []
        for e in examples:
            seq = e["prompt_ids"] + [i for i in e["greedy"] if i != eos][:MAX_NEW - 1]
            refs.append({**e, "seq": seq, "logits_seq": to_list(full_logits(lm64, seq))})
        manifest = {"dir": out, "num_layers": c.n_layer, "kv_heads": c.n_head, "head_dim": c.n_embd // c.n_head,
                    "eos_id": eos, "files": {k: {kk: v[kk] for kk in ("input_names", "output_names")}
                                             for k, v in files.items()},
                    "token_cases": cases, "examples": refs}
        tmp = tempfile.mkdtemp(prefix="gradlens-demo-dec-")
        try:
            mpath = os.path.join(tmp, "manifest.json")
            with open(mpath, "w", encoding="utf-8") as f:
                json.dump(manifest, f, ensure_ascii=False)
            r = subprocess.run(["node", os.path.join(HERE, "verify_demo_decoder.mjs"), mpath], cwd=ROOT)
            if r.returncode:
                failures.append("verify_demo_decoder.mjs failed")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    log(json.dumps({"vocab_size": V, "parameters": n_params, "steps": args.steps, "batch_size": args.batch_size,
                    "lr": args.lr, "threads": args.threads, "train_seconds": round(secs, 1),
                    "train_loss_last100": round(final, 4), "eval_loss": round(ev, 4),
                    "entropy_floor": round(floor, 4), "distinct_documents": n_docs,
                    "fact_accuracy": round(acc, 4), "fact_accuracy_by_category": per_cat,
                    "bytes": total, "onnx_bytes": {k: v["bytes"] for k, v in files.items()}}))
    if failures:
        for f in failures:
            log("CHECK FAILED: " + f)
        sys.exit(1)
    log("all checks passed")


if __name__ == "__main__":
    main()
