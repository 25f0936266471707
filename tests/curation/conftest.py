from __future__ import annotations

from pathlib import Path

import pytest


def make_spread_judge(src: Path, dst: Path) -> Path:
    """A tiny VQAScore judge whose P("Yes") spreads over [0, 1] across inputs.

    A random tiny model puts ~1/V on every token, so thresholds would not split rows. Here the
    "Yes" row of the (untied) output layer is set to compete with the most likely token along
    the main direction in which the final hidden state varies across inputs, centred so the
    median probability is about 0.5. Still a real checkpoint, loaded through from_pretrained.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from reward_models.vqascore.native import chat_texts

    from .inputs_factory import rgb

    model = AutoModelForImageTextToText.from_pretrained(src)
    proc = AutoProcessor.from_pretrained(src)
    yes = proc.tokenizer.encode("Yes", add_special_tokens=False)[0]
    imgs = [rgb(i, (48, 40)) for i in range(64)]
    texts = chat_texts(proc, [f'Does this image show "picture {i}"?' for i in range(64)])
    with torch.no_grad():
        inputs = proc(text=texts, images=imgs, return_tensors="pt", padding=True)
        out = model(**inputs, output_hidden_states=True, logits_to_keep=1)
        h = out.hidden_states[-1][:, -1, :]
        top = out.logits[:, -1].mean(0).argmax().item()
        mean = h.mean(0)
        u = torch.linalg.svd(h - mean, full_matrices=False).Vh[0]
        W = model.lm_head.weight.clone()
        W[yes] = W[top] + (4.0 / ((h - mean) @ u).std()) * (u - (mean @ u) / (mean @ mean) * mean)
        logits = h @ W.T
        others = logits.clone()
        others[:, yes] = -1e9
        gap = logits[:, yes] - torch.logsumexp(others, dim=1)
        W[yes] -= gap.median() * mean / (mean @ mean)
        model.config.tie_word_embeddings = False
        model.lm_head.weight = torch.nn.Parameter(W)
    model.save_pretrained(dst)
    proc.save_pretrained(dst)
    return dst


@pytest.fixture(scope="session")
def judges(tmp_path_factory, tiny_vl) -> dict[str, str]:
    """Judge folders for job tests, built by the real builders so the job runs the real
    scorers; VQAScore uses the spread judge so thresholds split rows."""
    from reward_models.edit_reward import build_tiny_edit_reward
    from reward_models.img_reward import build_tiny_img_reward

    root = tmp_path_factory.mktemp("judges")
    img = build_tiny_img_reward(root / "img_reward")
    edit = build_tiny_edit_reward(root / "edit_reward")
    vqa = make_spread_judge(tiny_vl, root / "vqascore")
    return {"img_reward": str(img), "edit_reward": str(edit), "vqa": str(vqa)}


def job_config(input_paths, output: Path, judges: dict[str, str], **over):
    from curation.config import ScoreJobConfig

    cfg = ScoreJobConfig()
    cfg.input.paths = [str(p) for p in input_paths]
    cfg.output.path = str(output)
    cfg.img_reward.model = judges["img_reward"]
    cfg.edit_reward.model = judges["edit_reward"]
    cfg.vqa.model = judges["vqa"]
    for st in (cfg.img_reward, cfg.edit_reward, cfg.vqa):
        st.batch_size = 8
        st.max_pixels = 64 * 64
    cfg.input.rows_per_partition = over.pop("rows_per_partition", 16)
    for key, value in over.items():
        cfg.set(key.replace("__", "."), value)
    return cfg
