"""Text-only probe of the judge's comparison: can the shipped base VLM's language model learn
score = f(caption, description) when the description is perfect (the world's own)?

Each row is the ImgReward prompt (system, "Caption: ...", the overall question) with no picture and the
think `<think>{description}</think><answer>` teacher-forced; the target is 9 for a clean scene and 0 for
a planted fault (the caption of the scene, the description of what was drawn). Held-out AUC per fault
every 500 steps. Not a shipped figure: a diagnosis of why the judges do not separate wrong
colour/shape/position (see the issue-16 closing note).

    python scripts/probe_text_comparison.py STEPS LR plain            # answer token only
    ONLY=wrong_colour,wrong_shape,wrong_position python scripts/probe_text_comparison.py 6000 2e-3 plain
    DENSE=1 ...      # also learn the description tokens (they can only come from the caption: reading)
    DENSE=aux ...    # half the rows ask which caption phrase the picture does not show (text answer)
    WIDE=192 HEADS=8 DENSE=1 ...   # a fresh, wider language model instead of the base VLM's
    N_OBJ=1 ...      # scenes with exactly this many objects (the simplest comparison: one phrase each)
"""
import sys, time, json, math, os
import numpy as np, torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from synthetic.scene import random_scene
from synthetic.prompts import caption
from synthetic.describe import describe
from synthetic.faults import attribute_fault, T2I_FAULTS

torch.manual_seed(0); torch.set_num_threads(1)
steps = int(sys.argv[1]); lr = float(sys.argv[2]); variant = sys.argv[3]
base = "reward_models/shipped/base_vlm" if len(sys.argv) < 5 else sys.argv[4]
proc = AutoProcessor.from_pretrained(base); tok = proc.tokenizer
if os.environ.get("WIDE"):
    from transformers import AutoConfig
    cfg = AutoConfig.from_pretrained(base); h = int(os.environ["WIDE"])
    cfg.text_config.hidden_size = h; cfg.text_config.intermediate_size = 2 * h
    cfg.text_config.num_attention_heads = int(os.environ.get("HEADS", 8)); cfg.text_config.num_key_value_heads = int(os.environ.get("HEADS", 8)) // 2
    cfg.text_config.num_hidden_layers = int(os.environ.get("LAYERS", 4))
    cfg.vision_config.out_hidden_size = h
    hd = h // cfg.text_config.num_attention_heads
    cfg.text_config.rope_parameters["mrope_section"] = [hd // 2 - 2 * (hd // 6), hd // 6, hd // 6] if False else cfg.text_config.rope_parameters["mrope_section"]
    torch.manual_seed(0); model = AutoModelForImageTextToText.from_config(cfg)
else:
    model = AutoModelForImageTextToText.from_pretrained(base)
model.train()
SYS = "You judge images generated from a caption. First think inside <think> </think>, then answer with one digit from 0 (worst) to 9 (best) inside <answer> </answer>."
Q = "Rate the image overall as a result for this caption."
ALL = [f for fs in T2I_FAULTS.values() for f in fs]
import os
if os.environ.get("ONLY"): ALL = os.environ["ONLY"].split(",")

def sample(rng):
    s = random_scene(rng, n_objects=int(os.environ['N_OBJ'])) if os.environ.get('N_OBJ') else random_scene(rng)
    if rng.random() < 0.5:
        return caption(s), describe(s), "9", None, "none"
    f = ALL[int(rng.integers(len(ALL)))]
    if f in T2I_FAULTS["instruction_alignment"]:
        d, det = attribute_fault(s, f, rng)
        from synthetic.prompts import object_phrase
        miss = object_phrase(s.objects[det["object"]]) if "object" in det else "?"
        return caption(s), describe(d), "0", f, miss
    if f in T2I_FAULTS["visual_artifacts"]:
        return caption(s), describe(s, quality=f), "0", f, "?"
    return caption(s), describe(s, broken=(int(rng.integers(len(s.objects))), f)), "0", f, "?"

QA = "Which part of the caption does the image not show?"
def text(c, d, q=None):
    if q is not None:
        msgs = [{"role": "system", "content": [{"type": "text", "text": SYS}]},
                {"role": "user", "content": [{"type": "text", "text": f"Caption: {c}\n{q}"}]}]
        return proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False) + f"<think>{d}</think><answer>"
    if variant == "after":  # caption repeated right before the answer
        user = f"Caption: {c}\n{Q}"; think = f"{d} Caption: {c}"
    else:
        user = f"Caption: {c}\n{Q}"; think = d
    msgs = [{"role": "system", "content": [{"type": "text", "text": SYS}]},
            {"role": "user", "content": [{"type": "text", "text": user}]}]
    p = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    return p + f"<think>{think}</think><answer>"

ids9 = tok("9", add_special_tokens=False)["input_ids"][-1]; ids0 = tok("0", add_special_tokens=False)["input_ids"][-1]
def batch(rows):
    enc = tok([text(c, d) for c, d, *_ in rows], return_tensors="pt", padding=True, add_special_tokens=False)
    return enc
def score(rows):
    model.eval(); out = []
    with torch.no_grad():
        for i in range(0, len(rows), 64):
            enc = batch(rows[i:i+64])
            lg = model(**enc, logits_to_keep=1).logits[:, -1, :]
            two = torch.stack([lg[:, ids0], lg[:, ids9]], 1).softmax(1)[:, 1]
            out += two.tolist()
    model.train(); return np.array(out)
def auc(pos, neg):
    pos, neg = np.asarray(pos), np.asarray(neg)
    return float(((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()))

ev_rng = np.random.default_rng(999); ev = [sample(ev_rng) for _ in range(400)]
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
rng = np.random.default_rng(1); t0 = time.time(); B = 32
for step in range(1, steps + 1):
    rows = [sample(rng) for _ in range(B)]
    if os.environ.get("DENSE"):
        aux = os.environ.get("DENSE") == "aux"
        full = [(text(r[0], r[1], QA) + r[4] if (aux and k % 2) else text(r[0], r[1]) + r[2]) + "</answer>" for k, r in enumerate(rows)]
        enc = tok(full, return_tensors="pt", padding=True, add_special_tokens=False)
        labels = enc["input_ids"].clone(); labels[enc["attention_mask"] == 0] = -100
        start = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        for i in range(len(rows)):
            ids = enc["input_ids"][i].tolist()
            for j in range(len(ids) - len(start), -1, -1):
                if ids[j:j + len(start)] == start: break
            labels[i, : j + len(start)] = -100
            if aux:  # only the answer is learned (tokens after <answer>)
                a = tok("<answer>", add_special_tokens=False)["input_ids"]
                for k2 in range(len(ids) - len(a), -1, -1):
                    if ids[k2:k2 + len(a)] == a: break
                labels[i, : k2 + len(a)] = -100
        out = model(**enc)
        lg = out.logits[:, :-1]; lab = labels[:, 1:]
        w = torch.ones_like(lab, dtype=torch.float)
        loss = torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.reshape(-1), ignore_index=-100)
    else:
        enc = batch(rows)
        lg = model(**enc, logits_to_keep=1).logits[:, -1, :]
        tgt = torch.tensor([ids9 if r[2] == "9" else ids0 for r in rows])
        loss = torch.nn.functional.cross_entropy(lg, tgt)
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for g in opt.param_groups: g["lr"] = lr * min(1.0, step / 100)
    opt.step(); opt.zero_grad()
    if step % 500 == 0 or step == steps:
        s = score(ev); clean = s[[r[3] is None for r in ev]]
        per = {f: round(auc(clean, s[[r[3] == f for r in ev]]), 3) for f in ALL}
        print(step, f"{time.time()-t0:.0f}s loss {loss.item():.3f} AUC {auc(clean, s[[r[3] is not None for r in ev]]):.3f}", per, flush=True)
