"""A static HTML report for one run: summary, conservation, failure modes, score pictures,
threshold sweep, errors, disagreement and per-failure-mode galleries of the lowest-scoring
samples. Writes `index.html` with `img/*.png` (matplotlib) and `thumbs/*.jpg` beside it, so the
folder opens from disk (file://) with no server and can be copied or zipped as is.

Everything but the gallery thumbnails comes from the named audits (metadata only); image bytes
are read for the gallery rows alone, from the shard files those rows live in.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import judges
from .. import schema as S
from .registry import run_audit
from .view import AuditView

TASK_COLORS = {"t2i": "#3b6fb6", "edit": "#d0802b", "(all)": "#444444"}
DECISION_COLORS = {"keep": "#3a9a5b", "reject": "#c8553d", "error": "#8c8c8c"}
SCORE_ORDER = judges.score_names()
"""The scores the report pictures, in order (reward, vqa, then every judge's sub-scores)."""
THUMB_PX = 160


def esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def html_table(table: pa.Table | list[dict], columns: list[str] | None = None, max_rows: int = 200,
               cls: str = "") -> str:
    rows = table.to_pylist() if isinstance(table, pa.Table) else table
    if not rows:
        return '<p class="empty">(no rows)</p>'
    columns = columns or list(rows[0])
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for r in rows[:max_rows]:
        cells = []
        for c in columns:
            v = r.get(c)
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            klass = ' class="num"' if num else (' class="bad"' if v is False else ' class="good"' if v is True else "")
            cells.append(f"<td{klass}>{esc(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="note">{len(rows) - max_rows} more rows not shown</p>' if len(rows) > max_rows else ""
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


# ----------------------------------------------------------------------------- pictures


def _figure(w: float, h: float):
    from matplotlib.figure import Figure  # the OO API: no global pyplot state, no display needed

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def plot_decisions(decisions: list[dict], path: Path) -> None:
    tasks = sorted({r["task"] for r in decisions}, key=lambda t: (t not in S.TASKS, t))
    fig = _figure(7, 0.5 + 0.45 * max(1, len(tasks)))
    ax = fig.subplots()
    left = [0] * len(tasks)
    for d in S.DECISIONS:
        vals = [sum(r["rows"] for r in decisions if r["task"] == t and r["decision"] == d) for t in tasks]
        ax.barh(tasks, vals, left=left, color=DECISION_COLORS[d], label=d)
        left = [a + b for a, b in zip(left, vals)]
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.legend(loc="lower right", fontsize=8, ncols=3)
    ax.set_title("decisions by task", fontsize=10)
    fig.savefig(path)


def plot_failure_modes(modes: list[dict], path: Path) -> None:
    tasks = sorted({r["task"] for r in modes})
    fig = _figure(7, 3)
    ax = fig.subplots()
    width = 0.8 / max(1, len(tasks))
    for k, t in enumerate(tasks):
        vals = [sum(r["rows"] for r in modes if r["task"] == t and r["mode"] == m) for m in S.FAILURE_MODES]
        ax.bar([i + k * width for i in range(len(S.FAILURE_MODES))], vals, width,
               color=TASK_COLORS.get(t, None), label=t)
    ax.set_xticks([i + width * (len(tasks) - 1) / 2 for i in range(len(S.FAILURE_MODES))],
                  [m.replace("_", "\n") for m in S.FAILURE_MODES], fontsize=8)
    ax.set_ylabel("rejected rows")
    ax.set_title("failure modes of rejected rows (a row may carry several)", fontsize=10)
    if tasks:
        ax.legend(fontsize=8)
    fig.savefig(path)


def plot_histograms(hist: list[dict], thresholds: dict[str, float | None], path: Path) -> list[str]:
    scores = sorted({r["score"] for r in hist}, key=lambda s: SCORE_ORDER.index(s) if s in SCORE_ORDER else 99)
    n = max(1, len(scores))
    cols = min(2, n)
    rows = (n + cols - 1) // cols
    fig = _figure(5.2 * cols, 2.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, score in zip(axes, scores):
        for task in sorted({r["task"] for r in hist if r["score"] == score}):
            part = [r for r in hist if r["score"] == score and r["task"] == task]
            ax.bar([r["bin_lo"] for r in part], [r["rows"] for r in part], width=[r["bin_hi"] - r["bin_lo"] for r in part],
                   align="edge", alpha=0.6, color=TASK_COLORS.get(task), label=task, edgecolor="white", linewidth=0.3)
        th = thresholds.get(score, thresholds.get("sub_score") if score not in ("reward", "vqa") else None)
        if th is not None:
            ax.axvline(th, color="black", linestyle="--", linewidth=1)
            ax.annotate(f"threshold {th:g}", (th, 1), xycoords=("data", "axes fraction"), xytext=(-3, -3),
                        textcoords="offset points", ha="right", va="top", fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_title(score, fontsize=9)
        ax.set_ylabel("rows", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes[len(scores):]:
        ax.set_visible(False)
    fig.savefig(path)
    return scores


def plot_sweep(sweep: list[dict], run_reward: float | None, run_vqa: float | None, path: Path) -> None:
    tasks = [t for t in ["(all)", *S.TASKS] if any(r["task"] == t for r in sweep)]
    tasks += sorted({r["task"] for r in sweep} - set(tasks))
    vqa_values = sorted({r["vqa_threshold"] for r in sweep})
    shown = [v for v in vqa_values if v in (0.0, run_vqa) or abs(v - 0.3) < 1e-9 or abs(v - 0.7) < 1e-9] or vqa_values[:3]
    fig = _figure(4.2 * max(1, len(tasks)), 3.4)
    axes = fig.subplots(1, max(1, len(tasks)), squeeze=False).ravel()
    for ax, task in zip(axes, tasks):
        for v in shown:
            pts = sorted((r["reward_threshold"], r["kept_share"]) for r in sweep if r["task"] == task and r["vqa_threshold"] == v)
            style = "-" if v == run_vqa else ":"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"VQAScore >= {v:g}", linewidth=1.5)
        cur = [r for r in sweep if r["task"] == task and r["is_run_setting"]]
        if cur:
            c = cur[0]
            ax.plot([c["reward_threshold"]], [c["kept_share"]], "o", color="black")
            right = c["reward_threshold"] > 0.75  # keep the label inside the axes
            ax.annotate(f"run setting: keeps {c['kept']} of {c['scored']} ({c['kept_share']:.0%})",
                        (c["reward_threshold"], c["kept_share"]), xytext=(-6 if right else 6, 8),
                        textcoords="offset points", ha="right" if right else "left", fontsize=7,
                        bbox={"boxstyle": "round", "fc": "white", "ec": "#999", "alpha": 0.9})
        ax.set_title(f"task {task}", fontsize=9)
        ax.set_xlabel("reward threshold", fontsize=8)
        ax.set_ylabel("share of scored rows kept", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    fig.savefig(path)


# ----------------------------------------------------------------------------- gallery


def _to_rgb(im):
    """RGB for display; 16-bit and float images are rescaled to their own range (a plain convert
    would clip them to white)."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        import numpy as np
        from PIL import Image

        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.astype(np.uint8), "L").convert("RGB")
    return im.convert("RGB")


def thumbnail(data: bytes | None, dest: Path) -> bool:
    """A small JPEG of an image cell's bytes; False when there are none or they do not decode."""
    if not data:
        return False
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > Image.MAX_IMAGE_PIXELS:
                return False
            im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at reduced size
            im = _to_rgb(im)
            im.thumbnail((THUMB_PX, THUMB_PX))
            im.save(dest, "JPEG", quality=90)
        return True
    except Exception:  # any undecodable image just gets no preview
        return False


def gallery_bytes(rows: list[dict]) -> dict[str, dict]:
    """sample_id -> {image, source_image} bytes, reading only the shard files the rows live in."""
    out: dict[str, dict] = {}
    by_file: dict[str, list[str]] = {}
    for r in rows:
        by_file.setdefault(r["shard_file"], []).append(r["sample_id"])
    for f, ids in by_file.items():
        schema = pq.read_schema(f)
        cols = [c for c in ("sample_id", S.IMAGE, S.SOURCE_IMAGE) if c in schema.names]
        t = pq.read_table(f, columns=cols, filters=[("sample_id", "in", ids)])
        for rec in t.to_pylist():
            out[rec["sample_id"]] = {k: (rec.get(k) or {}).get("bytes") for k in (S.IMAGE, S.SOURCE_IMAGE)}
    return out


def gallery_html(view: AuditView, out: Path, size: int, th: dict, totals: dict[str, int]) -> str:
    thumbs = out / "thumbs"
    thumbs.mkdir(exist_ok=True)
    parts = []
    for mode in S.FAILURE_MODES:
        rows = run_audit(view, "gallery", mode=mode, limit=size, run="0").to_pylist()
        shown = f"; the {len(rows)} lowest-scoring shown, lowest first" if rows else ""
        parts.append(f'<h3 id="gallery-{mode}">{esc(mode)} <span class="count">{totals.get(mode, 0)} rejected '
                     f'row(s) carry it{shown}</span></h3>')
        if not rows:
            parts.append('<p class="empty">No rejected row carries this mode.</p>')
            continue
        images = gallery_bytes(rows)
        cards = []
        for r in rows:
            sid = r["sample_id"]
            pics = []
            for kind, label in ((S.SOURCE_IMAGE, "source"), (S.IMAGE, "output")):
                data = images.get(sid, {}).get(kind)
                if kind == S.SOURCE_IMAGE and r["task"] != "edit":
                    continue
                name = hashlib.sha1(f"{r['run']}|{sid}|{kind}".encode()).hexdigest()[:16] + ".jpg"
                if thumbnail(data, thumbs / name):
                    pics.append(f'<figure><img src="thumbs/{name}" alt="{esc(label)} of {esc(sid)}" '
                                f'data-sample-id="{esc(sid)}" data-kind="{kind}"><figcaption>{label}</figcaption></figure>')
                else:
                    pics.append(f'<figure class="nopic"><div>no preview</div><figcaption>{label}</figcaption></figure>')
            prompt = r["prompt"] or ""
            prompt = prompt if len(prompt) <= 220 else prompt[:219] + "…"
            scores = []
            cheap = r.get("reward_score") is None and r.get("vqa_score") is None
            if cheap:
                scores.append('<span class="note">rejected by a cheap check (no model score)</span>')
            for key, label, limit in (("reward_score", "reward", th.get("reward")), ("vqa_score", "VQAScore", th.get("vqa"))):
                v = r.get(key)
                if cheap:
                    break
                low = v is not None and limit is not None and v < limit
                scores.append(f'<span class="{"low" if low else ""}">{label} {fmt(v, 3) or "–"}</span>')
            badges = "".join(f'<span class="mode{" this" if m == mode else ""}">{esc(m)}</span>'
                             for m in r["failure_modes"] or [])
            cards.append(f'<div class="card" data-sample-id="{esc(sid)}" data-mode="{esc(mode)}">'
                         f'<div class="pics">{"".join(pics)}</div>'
                         f'<div class="sid">{esc(sid)} <span class="task">{esc(r["task"])} · {esc(r["source"])}</span></div>'
                         f'<div class="prompt" title="{esc(r["prompt"])}">{esc(prompt)}</div>'
                         f'<div class="scores">{" ".join(scores)}</div><div class="modes">{badges}</div></div>')
        parts.append(f'<div class="gallery">{"".join(cards)}</div>')
    return "\n".join(parts)


# ----------------------------------------------------------------------------- page

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#23303f;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}
header .meta{font-size:12px;opacity:.85;margin-top:4px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 28px;font-size:13px;z-index:2}
nav a{margin-right:14px;color:#23303f;text-decoration:none}nav a:hover{text-decoration:underline}
main{padding:6px 28px 40px;max-width:1400px}section{margin-top:22px}
h2{font-size:17px;border-bottom:2px solid #23303f;padding-bottom:3px}h3{font-size:14px;margin:18px 0 6px}
.count{font-weight:normal;color:#777;font-size:12px}
table{border-collapse:collapse;font-size:12px;background:#fff;margin:6px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.good{color:#1f7a3d}td.bad{color:#b3261e;font-weight:bold}
.kv td:first-child{font-weight:600;background:#f4f6f8}
.status{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;font-size:12px}
.status.ok{background:#dff3e4;color:#1f7a3d}.status.fail{background:#fbe0dd;color:#b3261e}
img.plot{max-width:100%;background:#fff;border:1px solid #e3e3e3}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:10px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;font-size:12px}
.pics{display:flex;gap:4px;justify-content:center}figure{margin:0;text-align:center}
figure img{width:120px;height:120px;object-fit:contain;display:block;margin:auto;background:#f0f0f0}
figcaption{font-size:10px;color:#888}.nopic div{background:#eee;color:#999;
display:flex;align-items:center;justify-content:center;font-size:11px;width:120px;height:120px}
.sid{font-family:ui-monospace,monospace;font-size:11px;margin-top:4px;word-break:break-all}.task{color:#777}
.prompt{margin:4px 0;color:#333;overflow-wrap:anywhere}.scores span{margin-right:8px}.scores .low{color:#b3261e;font-weight:600}
.mode{display:inline-block;background:#eef1f5;border-radius:8px;padding:1px 6px;margin:2px 2px 0 0;font-size:10px}
.mode.this{background:#23303f;color:#fff}.empty,.note{color:#777;font-size:12px}
"""

# Records how many pictures loaded: a headless browser check reads it from the DOM.
SCRIPT = """window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (im) { return !im.complete || im.naturalWidth === 0; });
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-images-broken', String(broken.length));
});"""


def sweep_summary(sweep: list[dict], th: dict) -> tuple[str, str]:
    """A sentence and a small table: rows kept per task at a few reward thresholds, with the
    VQAScore threshold at the run's own value (what moving the reward threshold costs)."""
    vqa = th.get("vqa")
    at_vqa = [r for r in sweep if vqa is not None and abs(r["vqa_threshold"] - vqa) < 1e-9]
    if not at_vqa:
        return "", ""
    picks = sorted({0.5, 0.7, 0.8, 0.9, 0.95, 0.99} | ({th["reward"]} if th.get("reward") is not None else set()))
    rows = []
    for task in sorted({r["task"] for r in at_vqa}, key=lambda t: (t != "(all)", t)):
        row: dict[str, Any] = {"task": task}
        for p in picks:
            hit = [r for r in at_vqa if r["task"] == task and abs(r["reward_threshold"] - p) < 1e-9]
            if hit:
                mark = " (run)" if hit[0]["is_run_setting"] else ""
                row[f"reward >= {p:g}{mark}"] = f"{hit[0]['kept']} ({hit[0]['kept_share']:.0%})"
        rows.append(row)
    note = (f"Rows kept out of the scored (keep + reject) rows at VQAScore >= {vqa:g}, for several reward "
            f"thresholds; the run used reward >= {fmt(th.get('reward'))}.")
    return note, html_table(rows)


def build_report(run_dir: str | Path, out_dir: str | Path, gallery_size: int = 12, threads: int | None = None,
                 **sandbox: Any) -> Path:
    """Write the report for the run in `run_dir` to `out_dir/index.html`; returns that path.
    `sandbox`: AuditView's timeout, memory_limit, scratch, max_temp."""
    out = Path(out_dir)
    (out / "img").mkdir(parents=True, exist_ok=True)
    with AuditView([run_dir], threads=threads, **sandbox) as view:
        run = view.runs()[0]
        summary = view.folders[0].summary or {}
        th = {"reward": run["reward_threshold"], "vqa": run["vqa_threshold"], "sub_score": run["sub_score_threshold"]}
        decisions = run_audit(view, "decisions", run="0", by_source=False).to_pylist()
        conservation = run_audit(view, "conservation", run="0")
        modes = run_audit(view, "failure_modes", run="0", by_source=False)
        modes_by_source = run_audit(view, "failure_modes", run="0")
        combos = run_audit(view, "failure_mode_combos", run="0")
        hist = run_audit(view, "score_histogram", run="0", by_source=False).to_pylist()
        quantiles = run_audit(view, "score_quantiles", run="0", by_source=False)
        # the sweep spans 0.5-0.99 and reaches down to the run's own reward threshold if lower
        rmin = min(0.5, float(th["reward"] if th["reward"] is not None else 0.5))
        sweep = run_audit(view, "threshold_sweep", run="0", reward_min=rmin, reward_step=0.01).to_pylist()
        errors = run_audit(view, "errors", run="0")
        disagreement = run_audit(view, "disagreement", run="0", limit=10)
        totals: dict[str, int] = {}
        for r in modes.to_pylist():
            totals[r["mode"]] = totals.get(r["mode"], 0) + r["rows"]
        gallery = gallery_html(view, out, gallery_size, th, totals)

    plot_decisions(decisions, out / "img" / "decisions.png")
    plot_failure_modes(modes.to_pylist(), out / "img" / "failure_modes.png")
    plot_histograms(hist, th, out / "img" / "score_histograms.png")
    plot_sweep(sweep, th["reward"], th["vqa"], out / "img" / "threshold_sweep.png")

    failed = [r for r in conservation.to_pylist() if r["ok"] is not True]
    total = sum(r["rows"] for r in decisions)
    by_dec = {d: sum(r["rows"] for r in decisions if r["decision"] == d) for d in S.DECISIONS}
    pct = {d: f"{by_dec[d]} ({by_dec[d] / total:.1%})" if total else "0" for d in S.DECISIONS}
    kv = [("run id", run["run"]), ("run folder", run["run_dir"]), ("config hash", run["config_hash"]),
          ("created", run["created_at"]), ("input rows", run["input_rows"]),
          ("duplicate copies collapsed", run["duplicate_rows"]), ("output rows", total),
          ("kept", pct["keep"]), ("rejected", pct["reject"]), ("errors", pct["error"]),
          ("keep rule", f"reward >= {fmt(th['reward'])} and VQAScore >= {fmt(th['vqa'])} "
                        f"(sub-scores tag modes below {fmt(th['sub_score'])})"),
          ("judges", "; ".join(f"{j.get('stage')}: {j.get('scorer')} {j.get('model')}" for j in summary.get("judges", []))
           or "; ".join(f"{s} {run[f'{s}_model']}" for s in judges.STAGES)),
          ("partitions", f"{run['finished_partitions']} finished of {run['partitions']}"),
          ("scoring speed", f"{summary['rows_per_s']:.1f} rows/s" if summary.get("rows_per_s") else "")]
    kv_html = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in kv if v not in (None, ""))
    decisions_pivot = []
    for t in sorted({r["task"] for r in decisions}, key=lambda t: (t not in S.TASKS, t)):
        row: dict[str, Any] = {"task": t}
        for d in S.DECISIONS:
            row[d] = sum(r["rows"] for r in decisions if r["task"] == t and r["decision"] == d)
        row["rows"] = sum(row[d] for d in S.DECISIONS)
        scored = row["keep"] + row["reject"]
        row["keep rate (of scored)"] = row["keep"] / scored if scored else None
        decisions_pivot.append(row)
    status = ('<span class="status ok">all conservation checks pass</span>' if not failed else
              f'<span class="status fail">{len(failed)} conservation check(s) FAIL: '
              f'{esc(", ".join(r["check"] for r in failed))}</span>')
    sweep_note, sweep_table = sweep_summary(sweep, th)
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in [
        ("summary", "Summary"), ("conservation", "Conservation"), ("modes", "Failure modes"),
        ("scores", "Scores"), ("sweep", "Threshold sweep"), ("errors", "Errors"),
        ("disagreement", "Disagreement"), ("galleries", "Galleries")])
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Curation report {esc(run['run'])}</title><style>{CSS}</style></head>
<body data-run="{esc(run['run'])}">
<header><h1>Curation report</h1><div class="meta">run {esc(run['run'])} · {esc(run['run_dir'])}</div></header>
<nav>{nav}</nav>
<main>
<section id="summary"><h2>Summary</h2>
<table class="kv">{kv_html}</table>
{html_table(decisions_pivot)}
<img class="plot" src="img/decisions.png" alt="decisions by task"></section>
<section id="conservation"><h2>Conservation</h2><p>{status}</p>
{html_table(conservation, ["check", "ok", "observed", "expected", "detail"])}</section>
<section id="modes"><h2>Failure modes</h2>
<img class="plot" src="img/failure_modes.png" alt="failure modes by task">
{html_table(modes, ["task", "mode", "rows", "alone", "with_others", "rejects", "share_of_rejects", "share_of_scored"])}
<h3>Sets of modes on the same row</h3>{html_table(combos, ["task", "modes", "rows", "share_of_rejects"])}
<h3>By source</h3>{html_table(modes_by_source, ["task", "source", "mode", "rows", "rejects", "share_of_rejects", "share_of_scored"])}
</section>
<section id="scores"><h2>Score distributions</h2>
<img class="plot" src="img/score_histograms.png" alt="score histograms">
{html_table(quantiles, ["task", "score", "model", "n", "mean", "min", "p05", "p25", "p50", "p75", "p95", "max"])}</section>
<section id="sweep"><h2>Threshold sweep</h2><p>{esc(sweep_note)}</p>{sweep_table}
<img class="plot" src="img/threshold_sweep.png" alt="threshold sweep"></section>
<section id="errors"><h2>Errors</h2>{html_table(errors, ["error", "rows", "share_of_errors", "tasks", "sources", "examples"])}</section>
<section id="disagreement"><h2>Where the reward model and VQAScore disagree most</h2>
{html_table(disagreement, ["task", "sample_id", "decision", "reward_score", "vqa_score", "gap", "failure_modes", "prompt"])}</section>
<section id="galleries"><h2>Lowest-scoring rejected samples per failure mode</h2>{gallery}</section>
</main>
<script>{SCRIPT}</script>
</body></html>
"""
    path = out / "index.html"
    path.write_text(page)
    (out / "report.json").write_text(json.dumps({"run": run["run"], "conservation_failures": len(failed)}))
    return path
