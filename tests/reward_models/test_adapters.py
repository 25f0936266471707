"""Adapters read small files written in each dataset's exact layout, and skip bad rows with a count."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from . import rm_fixtures as fixtures
from reward_models.data import ColumnError, SkipLog, read_edits, read_preferences


def test_pickapic_drops_ties_and_bad_rows_and_randomises_order(tmp_path):
    root = fixtures.write_pickapic(tmp_path / "pickapic", n=24)
    skips = SkipLog()
    pairs = list(read_preferences("pickapic", str(root), seed=3, skips=skips))
    assert len(pairs) == 24
    assert skips.as_dict() == {"pickapic:missing_label": 1, "pickapic:tie": 1, "pickapic:undecodable_image": 1}
    labels = [p.label for p in pairs]
    assert 4 <= sum(labels) <= 20  # both orders occur
    assert {p.source for p in pairs} == {"pickapic"} and {p.aspect for p in pairs} == {"overall"}
    again = list(read_preferences("pickapic", str(root), seed=3))
    assert [p.label for p in again] == labels  # seeded
    assert pairs[0].image_a.mode == "RGB"


def test_pickapic_label_points_at_preferred_image(tmp_path):
    root = fixtures.write_pickapic(tmp_path / "pickapic", n=10)
    table = pq.read_table(next(root.rglob("*.parquet"))).to_pylist()[:10]
    for seed in (0, 1):
        for row, pair in zip(table, read_preferences("pickapic", str(root), seed=seed)):
            preferred = fixtures.png(pair.image_a if pair.label == 1 else pair.image_b, "PNG")
            winner = row["jpg_0"] if row["label_0"] == 1.0 else row["jpg_1"]
            assert preferred == fixtures.png(fixtures.Image.open(fixtures.io.BytesIO(winner)).convert("RGB"), "PNG")


def test_imagerewarddb_groups_expand_into_aspect_pairs(tmp_path):
    root = fixtures.write_imagerewarddb(tmp_path / "irdb", n_prompts=4)
    skips = SkipLog()
    pairs = list(read_preferences("imagerewarddb", str(root), seed=0, skips=skips))
    by_aspect = {a: [p for p in pairs if p.aspect == a] for a in ("overall", "alignment", "fidelity")}
    # Ranks 1,2,3 -> 3 overall pairs per prompt; the planted missing-file row costs undecodable skips.
    assert len(by_aspect["overall"]) == 4 * 3
    # Alignment ratings (7,7,1): one tie per prompt is dropped -> 2 pairs; fidelity (7,2,7) likewise.
    assert len(by_aspect["alignment"]) == 4 * 2 and len(by_aspect["fidelity"]) == 4 * 2
    assert skips.counts["imagerewarddb:undecodable_image"] > 0
    # Lower rank is better: the rank-1 image (clean, matching) must be the preferred one against rank 3.
    assert all(p.prompt.startswith("a ") for p in pairs)


def test_imagerewarddb_json_records(tmp_path):
    root = fixtures.write_imagerewarddb(tmp_path / "irdb", n_prompts=2)
    recs = pq.read_table(root / "metadata-train.parquet").to_pylist()
    (root / "metadata-train.parquet").unlink()
    import json

    (root / "train.json").write_text(json.dumps(recs))
    assert len([p for p in read_preferences("imagerewarddb", str(root)) if p.aspect == "overall"]) == 6


def test_hpdv2_train_and_test_layouts(tmp_path):
    root = fixtures.write_hpdv2(tmp_path / "hpdv2", n=6)
    skips = SkipLog()
    train = list(read_preferences("hpdv2", str(root), split="train", skips=skips))
    assert len(train) == 6 and skips.as_dict() == {"hpdv2:tie": 1}
    test = list(read_preferences("hpdv2", str(root), split="test"))
    assert len(test) == 2 * 2  # ranks [0,1,1]: the 1-1 tie is excluded


def test_unknown_layout_fails_with_clear_message(tmp_path):
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"caption": "x", "image": b""}]), bad)
    with pytest.raises(ColumnError, match="jpg_0"):
        list(read_preferences("pickapic", str(bad)))
    with pytest.raises(ValueError, match="unknown preference source"):
        read_preferences("laion", str(bad))


def test_humanedit_reads_structs_and_skips_bad_rows(tmp_path):
    root = fixtures.write_humanedit(tmp_path / "he", n=8)
    skips = SkipLog()
    rows = list(read_edits("humanedit", str(root), skips=skips))
    assert len(rows) == 8
    assert skips.as_dict() == {"humanedit:missing_instruction": 1, "humanedit:undecodable_image": 1}
    assert rows[0].source == "humanedit" and rows[0].meta["IMAGE_ID"] == "h0"
    assert rows[0].source_image.size == (64, 64)


def test_ultraedit_similarity_filter(tmp_path):
    root = fixtures.write_ultraedit(tmp_path / "ue", n=8)
    assert len(list(read_edits("ultraedit", str(root)))) == 8
    skips = SkipLog()
    kept = list(read_edits("ultraedit", str(root), skips=skips, min_similarity={"clip_sim_dir": 0.2}))
    assert len(kept) == 7 and skips.as_dict() == {"ultraedit:below_similarity": 1}
    assert "ssim" in kept[0].meta


def test_superedit_lists_and_negative_prompts(tmp_path):
    root = fixtures.write_superedit(tmp_path / "se", n=6)
    rows = list(read_edits("superedit", str(root), seed=1))
    assert len(rows) == 6
    assert rows[0].neg_instructions == ["make it a photo of a dog"]
    assert isinstance(rows[0].instruction, str) and rows[0].instruction


def test_superedit_column_names_are_verified(tmp_path):
    root = fixtures.write_superedit(tmp_path / "se", n=2, input_column="original_image")
    with pytest.raises(ColumnError, match=r"SuperEdit-40K.*input_image.*original_image"):
        list(read_edits("superedit", str(root)))


def test_synthetic_writers_if_available(tmp_path):
    """When the `synthetic` package is present, its writers' files read back through these adapters."""
    synthetic = pytest.importorskip("synthetic")
    for name, source, kind in [("write_pickapic", "pickapic", "pref"), ("write_hpdv2", "hpdv2", "pref"),
                               ("write_imagerewarddb", "imagerewarddb", "pref"), ("write_humanedit", "humanedit", "edit")]:
        writer = getattr(synthetic, name, None)
        if writer is None:
            continue
        folder = tmp_path / source
        _call_writer(writer, folder)
        reader = read_preferences if kind == "pref" else read_edits
        rows = list(reader(source, str(folder), limit=5))
        assert rows, f"{name} wrote nothing the {source} adapter reads"


def _call_writer(writer, folder):
    import inspect

    params = inspect.signature(writer).parameters
    kwargs = {k: v for k, v in {"n": 12, "n_prompts": 3, "seed": 0, "size": 64}.items() if k in params}
    return writer(folder, **kwargs)
