"""The import-only stand-ins the t2v-metrics set-up script installs (scripts/t2v_metrics/t2v_standins.py).

Run in a fresh interpreter: the finder must never reach this test process (transformers would
then believe flash_attn is installed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts" / "t2v_metrics"

PROBE = r'''
import sys
sys.path.insert(0, sys.argv[1])
import t2v_standins  # installs the finder last in sys.meta_path
assert isinstance(sys.meta_path[-1], t2v_standins.StandInFinder)
from llava.model.builder import load_pretrained_model
from llava.constants import IMAGE_TOKEN_INDEX
from flash_attn.bert_padding import unpad_input
from pytorchvideo.transforms import ShortSideScale
import flash_attn
assert flash_attn.__version__ == "0.0.0" and flash_attn.__t2v_standin__

class Sub(ShortSideScale):  # subclassing a stand-in at import time works
    pass

try:
    load_pretrained_model("x")
except t2v_standins.StandInError as e:
    assert "stand-in" in str(e)
else:
    raise AssertionError("a stand-in must raise when called")
import json  # anything else is untouched, and a real package is found before the finder runs
assert t2v_standins.StandInFinder().find_spec("json") is None
import PIL
assert not getattr(PIL, "__t2v_standin__", False)
print("ok")
'''


def test_standins_import_and_raise_when_used():
    out = subprocess.run([sys.executable, "-c", PROBE, str(SCRIPTS)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert "t2v_standins" not in sys.modules
