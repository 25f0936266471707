"""Test-only model helpers shared by several test packages."""

from __future__ import annotations

from pathlib import Path


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

    from .curation.inputs_factory import rgb

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
