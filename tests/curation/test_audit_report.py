"""The static HTML report of a real (small) scoring run: pictures and galleries exist and point at
real rows; the page renders in headless Chromium without console errors or broken images."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from PIL import Image

from curation import judges
from curation import schema as S
from curation.audits.report import build_report

from .audit_runs import load_rows, manifest, real_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLOTS = ["decisions.png", "failure_modes.png", "score_histograms.png", "threshold_sweep.png"]


class Page(HTMLParser):
    """Images, gallery cards and section ids of the report."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict] = []
        self.cards: list[dict] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.imgs.append(a)
        if tag == "div" and "card" in (a.get("class") or "").split():
            self.cards.append(a)


@pytest.fixture(scope="module")
def report(tmp_path_factory, ray_session, spread_vqa):
    runs = real_runs(tmp_path_factory, spread_vqa)
    run = runs["b"]  # thresholds 0.3 / 0.3: the run keeps some rows and rejects others
    out = tmp_path_factory.mktemp("report")
    index = build_report(run, out, gallery_size=6)
    page = Page()
    page.feed(index.read_text())
    return {"run": run, "out": out, "index": index, "page": page, "rows": load_rows(run)}


def test_report_pictures_exist_and_are_referenced(report):
    out, page = report["out"], report["page"]
    srcs = [i["src"] for i in page.imgs]
    for name in PLOTS:
        assert f"img/{name}" in srcs
        with Image.open(out / "img" / name) as im:
            assert im.format == "PNG" and im.width >= 500 and im.height >= 150
            assert len(im.convert("L").getcolors(maxcolors=256) or range(256)) > 10  # not a blank picture
    for src in srcs:
        assert not re.match(r"^[a-z]+:", src), "pictures are relative paths that open from disk"
        assert (out / src).is_file(), src
    assert {"summary", "conservation", "modes", "scores", "sweep", "errors", "galleries"} <= set(page.ids)


def test_report_summary_and_tables_reference_the_run(report):
    html = report["index"].read_text()
    rows = report["rows"]
    assert manifest(report["run"])["run_id"] in html
    assert f"<td>output rows</td><td>{len(rows)}</td>" in html
    assert "all conservation checks pass" in html
    for err in rows[rows.decision == "error"].error.unique():
        assert err.replace("'", "&#x27;").replace('"', "&quot;")[:40] in html


def mode_score(r, mode: str) -> float:
    """The gallery's documented order: the score that stands for the mode, else reward, else VQAScore."""
    def get(col):
        v = getattr(r, col, None)
        return None if v is None or v != v else v

    vqa_task = {"instruction_alignment": "t2i", "edit_noncompliance": "edit"}.get(mode)
    subs = [c for c, m in judges.sub_score_modes().items() if m == mode]  # e.g. visual_artifacts: fidelity, quality
    values = [get(c) for c in subs] + ([get("vqa_score")] if r.task == vqa_task else [])
    values = [v for v in values if v is not None]
    for v in ([min(values)] if values else []) + [get("reward_score"), get("vqa_score")]:
        if v is not None:
            return v
    return float("inf")  # rejected by a cheap check: no score, shown last


def test_galleries_show_the_lowest_scoring_real_rows(report):
    page, out, rows = report["page"], report["out"], report["rows"]
    rejects = rows[rows.decision == "reject"]
    by_mode: dict[str, list[str]] = {}
    for card in page.cards:
        by_mode.setdefault(card["data-mode"], []).append(card["data-sample-id"])
    for mode in S.FAILURE_MODES:
        tagged = rejects[[mode in set(m) for m in rejects.failure_modes]]
        shown = by_mode.get(mode, [])
        assert len(shown) == min(6, len(tagged)), mode
        assert set(shown) <= set(tagged.sample_id), f"{mode}: gallery rows must be rejects with that mode"
        if shown:
            # the lowest-scoring: nothing outside the gallery scores below its highest-scoring card
            scores = {r.sample_id: mode_score(r, mode) for r in tagged.itertuples()}
            worst_shown = max(scores[s] for s in shown)
            assert all(scores[s] >= worst_shown for s in set(scores) - set(shown))
    assert page.cards, "some failure mode has rejected rows"
    thumbs = [i for i in page.imgs if i["src"].startswith("thumbs/")]
    assert thumbs and {i["data-sample-id"] for i in thumbs} <= set(rejects.sample_id)
    for i in thumbs:
        with Image.open(out / i["src"]) as im:
            assert max(im.size) <= 160
    edits = [i for i in thumbs if i["data-kind"] == "source_image"]
    assert edits, "edit rows show their source image beside the output"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    url = report["index"].resolve().as_uri()
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=5000"]
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)
    n_img = len(report["page"].imgs)
    assert f'data-images="{n_img}"' in body, body  # the page's load handler ran
    assert 'data-images-broken="0"' in body, body  # and every picture decoded
    shot = tmp_path / "report.png"
    run = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        assert len(im.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50  # not blank
