"""Probe of the judge's comparison with dense targets: after each object of the (perfect, world)
description the think says whether the caption names that object ("a red circle on the left: yes"),
then the answer (9 clean, 0 wrong colour/shape/position). Every think token and the answer are learned,
text only, from the shipped base VLM's language model. Reports, teacher-forced on 300 held-out rows,
the share of objects marked right, separately for objects the caption names (yes) and the changed
object it does not (no). See the issue-16 closing note.

    python scripts/probe_comparison_marks.py STEPS LR      # e.g. 2000 1e-3
"""
import os, re, sys, time
import numpy as np, torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from synthetic.scene import random_scene
from synthetic.prompts import caption
from synthetic.describe import describe, _OBJ_RE
from synthetic.faults import attribute_fault

torch.manual_seed(0); torch.set_num_threads(1)
steps, lr = int(sys.argv[1]), float(sys.argv[2])
base = "reward_models/shipped/base_vlm"
proc = AutoProcessor.from_pretrained(base); tok = proc.tokenizer
model = AutoModelForImageTextToText.from_pretrained(base); model.train()
SYS = "You judge images generated from a caption. First think inside <think> </think>, then answer with one digit from 0 (worst) to 9 (best) inside <answer> </answer>."
Q = "Rate the image overall as a result for this caption."
FAULTS = ("wrong_colour", "wrong_shape", "wrong_position")

def marked(c, d):
    def sub(m):
        phrase = m.group(0)
        plain = re.sub(r"^(a|an) (sliced|two-toned|ghosted) ", lambda k: ("an " if m.group(2)[0] in "aeiou" else "a "), phrase)
        return f"{phrase}: {'yes' if plain in c else 'no'}"
    return _OBJ_RE.sub(sub, d)

def sample(rng):
    s = random_scene(rng)
    if rng.random() < 0.5:
        return caption(s), marked(caption(s), describe(s)), "9"
    d, _ = attribute_fault(s, FAULTS[int(rng.integers(3))], rng)
    return caption(s), marked(caption(s), describe(d)), "0"

def text(c, d, a):
    msgs = [{"role": "system", "content": [{"type": "text", "text": SYS}]},
            {"role": "user", "content": [{"type": "text", "text": f"Caption: {c}\n{Q}"}]}]
    return proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False) + f"<think>{d}</think><answer>{a}</answer>"

YES, NO = (tok(": yes", add_special_tokens=False)["input_ids"][-1], tok(": no", add_special_tokens=False)["input_ids"][-1])
OPEN = tok(": yes", add_special_tokens=False)["input_ids"][-2]
START = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]

def encode(rows):
    enc = tok([text(*r) for r in rows], return_tensors="pt", padding=True, add_special_tokens=False)
    labels = enc["input_ids"].clone(); labels[enc["attention_mask"] == 0] = -100
    for i in range(len(rows)):
        ids = enc["input_ids"][i].tolist()
        j = max(k for k in range(len(ids) - len(START) + 1) if ids[k:k + len(START)] == START)
        labels[i, : j + len(START)] = -100
    return enc, labels

def evaluate(rows):
    model.eval(); right = {"yes": [0, 0], "no": [0, 0]}
    with torch.no_grad():
        for i in range(0, len(rows), 64):
            enc, labels = encode(rows[i:i + 64])
            lg = model(**enc).logits
            ids = enc["input_ids"]
            for b in range(ids.shape[0]):
                for t in range(1, ids.shape[1]):
                    if ids[b, t - 1] == OPEN and ids[b, t] in (YES, NO):
                        truth = "yes" if ids[b, t] == YES else "no"
                        pred = "yes" if lg[b, t - 1, YES] > lg[b, t - 1, NO] else "no"
                        right[truth][0] += pred == truth; right[truth][1] += 1
    model.train()
    return {k: round(v[0] / max(1, v[1]), 3) for k, v in right.items()}, {k: v[1] for k, v in right.items()}

assert tok.decode([OPEN, YES]) == ": yes" and tok.decode([OPEN, NO]) == ": no", (tok.decode([OPEN, YES]), tok.decode([OPEN, NO]))
ev = [sample(np.random.default_rng(999 + k)) for k in range(300)]
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
rng = np.random.default_rng(1); t0 = time.time()
for step in range(1, steps + 1):
    enc, labels = encode([sample(rng) for _ in range(32)])
    out = model(**enc)
    loss = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, out.logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for g in opt.param_groups: g["lr"] = lr * min(1.0, step / 100)
    opt.step(); opt.zero_grad()
    if step % 250 == 0 or step == steps:
        print(step, f"{time.time() - t0:.0f}s loss {loss.item():.3f} mark accuracy (teacher-forced)", *evaluate(ev), flush=True)
