#!/usr/bin/env bash
# The image codec's GPU stage, in one command: stage the photos (at most 50 MB, once), continue
# training from the shipped weights for MINUTES at the highest throughput this code reaches
# (large batches, bf16, crops cut on the device in one gather, torch.compile), export the weights
# and model card, and print the throughput in megapixels of crops per second.
#
#   scripts/gpu-stage.sh [MINUTES] [EXPORT_DIR]          # defaults: 9 minutes, runs/gpu-stage/export
#
# Settings by environment: DEVICE (cuda), BATCH (128), CROP (256), LR (1.5e-4), COMPILE (1),
# STEPS (a fixed step count instead of MINUTES), STAGE (data/image-stage), RUN (runs/gpu-stage),
# PYTHON (.venv/bin/python if present, else python3). Data come from ../shared/data/images when
# STAGE is empty (scripts/stage-image-data.py); a GPU machine without that folder needs STAGE
# copied in beforehand. A Python without the entropy coder (a bare CUDA image) gets it from
# wheels in .whl/ if there are any: export needs it to tabulate the priors.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${1:-9}
EXPORT=${2:-runs/gpu-stage/export}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-128}
CROP=${CROP:-256}
LR=${LR:-1.5e-4}
COMPILE=${COMPILE:-1}
STAGE=${STAGE:-data/image-stage}
RUN=${RUN:-runs/gpu-stage}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if [ ! -d "$STAGE/train" ]; then
  "$PYTHON" scripts/stage-image-data.py --out "$STAGE"
fi
if ! "$PYTHON" -c "import constriction" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
  mkdir -p "$RUN"
  site="$(cd "$RUN" && pwd)/site-packages"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl
  export PYTHONPATH=$site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

length=(--time-budget "$MINUTES")
if [ -n "${STEPS:-}" ]; then length=(--steps "$STEPS"); fi
compile=()
if [ "$COMPILE" = 1 ]; then compile=(--compile); fi

"$PYTHON" -m ncodec train image --config assets/image_hyperprior.json --profile gpu --device "$DEVICE" \
  --data "$STAGE/train" --val-dir "$STAGE/dev" --init-from assets/image_hyperprior.safetensors \
  --batch-size "$BATCH" --crop "$CROP" --lr "$LR" "${length[@]}" "${compile[@]}" \
  --out "$RUN" --export "$EXPORT" | tee "$RUN.summary"
"$PYTHON" - "$RUN.summary" <<'PY'
import json, sys
summary = next(json.loads(line) for line in open(sys.argv[1]) if line.startswith("{"))
print(f"throughput: {summary.get('megapixels_per_s', 'n/a')} Mpx/s of crops "
      f"({summary.get('steps_per_s', 'n/a')} steps/s, {summary['steps']} steps on {summary['device']})")
PY
