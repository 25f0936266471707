#!/usr/bin/env bash
# Build a separate Python environment with the real t2v-metrics 3.0 for the scoring job's
# t2v-metrics stage (`--vqa-backend t2v_metrics --t2v-python <env>/bin/python`).
#
#   scripts/setup_t2v_metrics.sh [ENV_DIR]
#       ENV_DIR default: $T2V_VENV, else ~/.cache/unipic-curation/t2v-metrics-3.0 (what the tests look for)
#   Environment: PYTHON (interpreter to build from, default python3), RAY_VERSION (default: the
#   project .venv's ray, else 2.60.0), T2V_CLEAN=1 (delete ENV_DIR first).
#
# t2v-metrics pins torch 2.5.1 / transformers 4.49.0 / numpy 1.26.4 / Pillow 10.0.0, so it never
# goes into the project's own .venv. About 4 minutes and 7.3 GB on an idle machine (a cold build
# with no pip cache: 12 minutes, 7.5 GB on a busy 2-core one). What it does and why:
#  1. ffmpeg: `import t2v_metrics` needs the ffmpeg binary and the FFmpeg shared libraries
#     (Debian: `apt-get install ffmpeg`). Installed here when running as root with apt-get;
#     otherwise the script stops and says what to install.
#  2. apex==0.9.10dev (pinned by t2v-metrics) is, on the package index, a Pyramid web toolkit
#     (not NVIDIA apex) that requires `cryptacular`, which has no wheel; cryptacular 1.6.2 only
#     builds when its build environment has setuptools<72 (newer setuptools breaks its enscons
#     compiler probe). It is installed first, alone, with that cap.
#  3. t2v-metrics with scripts/t2v_metrics/constraints.txt: without pins pip backtracks for tens of
#     minutes; pyarrow 21 keeps numpy 1.26.4. Plus ray (same version as the cluster's: a Ray
#     worker started with this interpreter imports ray and the project's stage code).
#  4. Import-only stand-ins for llava / flash_attn / pytorchvideo, last in the import system
#     (scripts/t2v_metrics/t2v_standins.py): `import t2v_metrics` imports every model family, and
#     these three cannot be installed from the registries next to its pins.
#  5. A smoke check: `import t2v_metrics` and the Qwen2.5-VL scorer class.
# The finished environment is stamped with the hash of this script and its inputs; rerunning with
# an unchanged stamp does nothing (so CI can cache ENV_DIR), and a rerun after a change reuses
# what pip already installed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
ENV_DIR="${1:-${T2V_VENV:-$HOME/.cache/unipic-curation/t2v-metrics-3.0}}"
PYTHON="${PYTHON:-python3}"
if [ -z "${RAY_VERSION:-}" ]; then
    RAY_VERSION="$("$ROOT/.venv/bin/python" -c 'import ray; print(ray.__version__)' 2>/dev/null || echo 2.60.0)"
fi
STAMP="$ENV_DIR/.t2v-setup-stamp"
HASH="$( (cat "$0" "$HERE/t2v_metrics/constraints.txt" "$HERE/t2v_metrics/t2v_standins.py"; echo "$RAY_VERSION") \
    | sha256sum | cut -c1-16)"

if [ "${T2V_CLEAN:-0}" = 1 ]; then rm -rf "$ENV_DIR"; fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
    echo "t2v-metrics environment up to date: $ENV_DIR/bin/python"
    exit 0
fi

# 1. ffmpeg
if ! command -v ffmpeg >/dev/null || ! ldconfig -p 2>/dev/null | grep -q libavformat; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ffmpeg (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
    else
        echo "error: t2v-metrics needs the ffmpeg binary and the FFmpeg shared libraries; install them" >&2
        echo "       (Debian/Ubuntu: sudo apt-get install ffmpeg) and rerun $0" >&2
        exit 1
    fi
fi

rm -f "$STAMP"
[ -x "$ENV_DIR/bin/python" ] || "$PYTHON" -m venv "$ENV_DIR"
PIP=("$ENV_DIR/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install --quiet --upgrade pip wheel
# 2. cryptacular, built with setuptools<72 in pip's isolated build environment: pip >= 25.3 takes
#    the cap as --build-constraint; older pip through PIP_CONSTRAINT (which then reached build envs).
CAP="$(mktemp)"; echo "setuptools<72" > "$CAP"
if "${PIP[@]}" install --help | grep -q -- "--build-constraint"; then
    "${PIP[@]}" install --quiet --build-constraint "$CAP" "cryptacular==1.6.2"
else
    PIP_CONSTRAINT="$CAP" "${PIP[@]}" install --quiet "cryptacular==1.6.2"
fi
rm -f "$CAP"
# 3. t2v-metrics itself and ray, resolved against the constraints.
"${PIP[@]}" install --quiet "t2v-metrics==3.0" "ray[data]==$RAY_VERSION" -c "$HERE/t2v_metrics/constraints.txt"
# 4. stand-ins, appended to the end of sys.meta_path at start-up (real packages win).
SITE="$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cp "$HERE/t2v_metrics/t2v_standins.py" "$SITE/t2v_standins.py"
echo "import t2v_standins" > "$SITE/zzz_t2v_standins.pth"
# 5. smoke check.
(cd "$ENV_DIR" && HF_HUB_OFFLINE=1 "$ENV_DIR/bin/python" - <<'PY'
import t2v_metrics
from t2v_metrics.models.vqascore_models.qwen2vl_model import QWEN2_VL_MODELS, Qwen2VLModel
import qwen_vl_utils, transformers, torch, PIL, ray
assert "qwen2.5-vl-7b" in QWEN2_VL_MODELS
print("t2v-metrics ready: transformers", transformers.__version__, "torch", torch.__version__,
      "Pillow", PIL.__version__, "ray", ray.__version__)
PY
)
echo "$HASH" > "$STAMP"
du -sh "$ENV_DIR" | sed 's/^/size: /'
echo "t2v-metrics environment ready: $ENV_DIR/bin/python"
