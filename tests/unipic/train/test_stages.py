"""The four stage configs: Table 1 values, and each stage trains exactly the groups it names."""

from __future__ import annotations

import pytest
import torch

from unipic.train.stages import ALL_GROUPS, STAGES, get_stage


def test_table_one_values():
    pt, al, ct, sft = (STAGES[k] for k in ("pt", "alignment", "ct", "sft"))
    assert (pt.lr, pt.schedule, pt.weight_decay, pt.warmup_ratio, pt.ema_decay) == (5e-5, "constant", 0.0, 0.05, 0.9999)
    assert (al.lr, al.schedule, al.weight_decay, al.warmup_ratio, al.ema_decay) == (1e-5, "cosine", 0.02, 0.05, None)
    assert (ct.lr, ct.schedule, ct.weight_decay, ct.warmup_ratio, ct.ema_decay) == (1e-5, "cosine", 0.02, 0.01, 0.9999)
    assert (sft.lr, sft.schedule, sft.weight_decay, sft.warmup_ratio, sft.ema_decay) == (5e-6, "cosine", 0.02, 0.01, 0.995)
    assert pt.loss_weights == (0.0, 1.0, 0.0) and pt.tasks == ("t2i",)
    assert ct.loss_weights == sft.loss_weights == (0.01, 1.0, 1.0)
    assert (pt.gen_size, pt.und_size) == (512, 256) and all(s.gen_size == 1024 for s in (al, ct, sft))
    assert sft.min_reward == 0.9 and pt.min_reward is None and ct.min_reward is None
    assert [s.init_from for s in (pt, al, ct, sft)] == [None, "pt", "alignment", "ct"]
    for s in STAGES.values():
        assert s.adam_betas == (0.9, 0.95) and s.adam_eps == 1e-15 and s.grad_clip == 1.0
    with pytest.raises(ValueError, match="unknown stage"):
        get_stage("rlhf")


def test_trainable_groups_per_stage():
    assert STAGES["pt"].trainable == ("mar_encoder", "mar_decoder", "diffusion_head")
    assert set(STAGES["alignment"].trainable) == {"proj_in", "proj_out", "siglip_proj"}
    assert set(STAGES["ct"].frozen) == {"siglip"}
    assert set(STAGES["sft"].trainable) == set(ALL_GROUPS)


def test_gen_size_scales_with_the_model():
    from unipic.config import UniPicConfig

    full, tiny = UniPicConfig.full(), UniPicConfig.tiny()
    assert STAGES["pt"].gen_size_for(full) == 512 and STAGES["ct"].gen_size_for(full) == 1024
    assert STAGES["pt"].gen_size_for(tiny) == 32 and STAGES["ct"].gen_size_for(tiny) == 64


def _load(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_trains_exactly_its_groups(stage, tmp_path, tiny_train_folder, job_shards, und_parquet):
    """Three real training steps (t2i + edit + understanding rows, the stage's U:G:E): every
    trainable group changes, every frozen group and the codec stay bit-identical. (Three: the
    diffusion head's output and modulation layers start at zero, so the first gradient
    reaches MAR at step three.)"""
    from unipic.model import PARAMETER_GROUPS
    from unipic.train.loop import TrainConfig, run_local

    cfg = TrainConfig(stage=stage, output=str(tmp_path / stage), data=[str(job_shards)],
                      understanding=[str(und_parquet)], init_from=str(tiny_train_folder), max_steps=3,
                      batch_size=2, image_size=32, checkpoint_every=1, progress=False, threads=1)
    metrics = run_local(cfg)
    expected_losses = {f"loss_{t}" for t in STAGES[stage].tasks}
    assert expected_losses <= set(metrics), metrics
    weighted = sum(STAGES[stage].weight(t) * metrics[f"loss_{t}"] for t in STAGES[stage].tasks)
    assert metrics["loss"] == pytest.approx(weighted, rel=1e-5)  # the stage's U:G:E weights
    before, after = _load(tiny_train_folder), _load(tmp_path / stage / "final" / "model")
    changed = {}
    for group, prefixes in list(PARAMETER_GROUPS.items()) + [("codec", ("codec.",))]:
        keys = [k for k in before if k.startswith(prefixes)]
        assert keys, group
        changed[group] = any(not torch.equal(before[k], after[k]) for k in keys)
    trained = {g for g, c in changed.items() if c}
    assert trained == set(STAGES[stage].trainable), (stage, trained)
    run = (tmp_path / stage / "run.json").read_text()
    assert all(g in run for g in STAGES[stage].trainable)


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_gradients_reach_exactly_its_groups(stage, tiny_train_folder, job_shards, und_parquet):
    """With every layer open (no zero init), the stage's weighted losses put a non-zero gradient
    on every trainable group and none anywhere else (frozen parameters have no .grad)."""
    from unipic.checkpoint import load_pretrained
    from unipic.tiny import open_zero_initialised
    from unipic.train.data import BatchStream, ResolutionBuckets, SourceConfig
    from unipic.train.losses import TrainingModule, build_inputs
    from unipic.train.stages import apply_stage

    model = open_zero_initialised(load_pretrained(tiny_train_folder, device="cpu", dtype=torch.float32))
    st = STAGES[stage]
    apply_stage(model, st)
    model.train()
    sources = {"t2i": SourceConfig([str(job_shards)], "t2i"), "edit": SourceConfig([str(job_shards)], "edit"),
               "und": SourceConfig([str(und_parquet)], "und", None)}
    inputs = {}
    for task in st.tasks:
        buckets = None if task == "und" else ResolutionBuckets(32, 8)
        batch = BatchStream(sources[task], 2, seed=1, buckets=buckets).next()
        inputs[task] = build_inputs(model, task, batch, step=0, seed=0, caption_dropout=0.0)
    losses = TrainingModule(model)(inputs)
    sum(st.weight(t) * losses[t] for t in losses).backward()
    with_grad = {g for g, ps in model.parameter_groups().items()
                 if any(p.grad is not None and p.grad.abs().sum() > 0 for _, p in ps)}
    assert with_grad == set(st.trainable)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert all(dict(model.named_parameters())[n].grad is None for n in frozen)
    assert all(not p.requires_grad for p in model.codec.parameters())
