# Sourced by the device scripts (gpu_check.sh, gpu_card_pace.sh): the carried wheels installed,
# the carried data found, $OUT made, and the card, torch and CUDA versions written to $OUT/card.txt.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
export INNR_BENCH_DATA=$PWD/.gpu INNR_BENCH_CACHE=/tmp/innr-cache PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -c "import torch; print('card', torch.cuda.get_device_name(0), 'torch', torch.__version__, 'cuda', torch.version.cuda)" \
  | tee "$OUT/card.txt"
