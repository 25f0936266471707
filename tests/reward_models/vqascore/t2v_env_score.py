"""Score pairs with the REAL t2v-metrics through the project's t2v-metrics stage scorer.

Run by test_vqascore_t2v_metrics_real.py with the t2v-metrics interpreter (PYTHONPATH = the
repository), never imported by pytest: `python t2v_env_score.py REQUEST.json RESULT.json`, where
the request holds `checkpoint`, `images` (PNG paths), `texts` and `pixels` (an .npz path for the
images exactly as the package's qwen_vl_utils prepares them for the processor).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import PIL
from PIL import Image
from qwen_vl_utils import process_vision_info

from reward_models.interface import ScoreBatch
from reward_models.vqascore.t2v_backend import T2VMetricsConfig, T2VMetricsVQAScorer


def main(request: str, result: str) -> None:
    req = json.loads(open(request).read())
    import t2v_metrics  # the real package: fail here, loudly, if the environment lacks it

    scorer = T2VMetricsVQAScorer(T2VMetricsConfig(model="qwen2.5-vl-7b", checkpoint=req["checkpoint"], device="cpu",
                                                  dtype="float32"))
    images = [Image.open(p).convert("RGB") for p in req["images"]]
    out = scorer.score(ScoreBatch(list(req["texts"]), images))
    prepared = {}
    for i, img in enumerate(images):
        (vision, *_), _ = process_vision_info([{"role": "user", "content": [{"type": "image", "image": img}]}])
        prepared[f"img{i}"] = np.asarray(vision)
    np.savez(req["pixels"], **prepared)
    json.dump({"pillow": PIL.__version__, "scores": out.score.tolist(), "info": out.info, "model_id": out.model_id,
               "model_revision": out.model_revision, "t2v_metrics_file": t2v_metrics.__file__,
               "dtype": str(next(scorer._score_model.model.model.parameters()).dtype)}, open(result, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
