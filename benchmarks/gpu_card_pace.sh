#!/usr/bin/env bash
# The device check of the card issue ("the card at its pace"), as one prepared script for a lent
# H100/H200: one call of about 8 minutes, leaving time to rerun a failed step. Prepare here first
# (as benchmarks/gpu_check.sh says), with torchattacks' wheel too:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl pydantic pydantic-core annotated-types typing-inspection platformdirs torchattacks
#   python benchmarks/write_idx.py .gpu          # full MNIST and Fashion-MNIST as IDX files
#
# then: run(command="bash benchmarks/gpu_card_pace.sh", carry=[".whl", ".gpu"], timeout_s=560).
# Every figure is written under $OUT with the card, torch and CUDA versions beside it.
set -uo pipefail
# shellcheck source=benchmarks/gpu_setup.sh
source benchmarks/gpu_setup.sh
# 1. captured steps: each loop eager, as a CUDA graph and (the fit) compiled; overhead share (goal <= 0.3)
timeout 90 python3 benchmarks/captured_steps.py --device cuda --steps 50 --out "$OUT/captured-steps.json" 2>&1 | tail -10
# 2. the runner's batched fits and stacked copies: suites/mnist.yaml from an empty cache as published
#    (one at a time), then with eval.stack_fits 3 and stack_copies 8, each timed
python3 - <<'EOF'
import yaml
doc = yaml.safe_load(open("suites/mnist.yaml"))
doc["eval"] = {**doc.get("eval", {}), "stack_fits": 3, "stack_copies": 8}
yaml.safe_dump(doc, open("/tmp/mnist-stacked.yaml", "w"), sort_keys=False)
EOF
for suite in suites/mnist.yaml /tmp/mnist-stacked.yaml; do
  start=$(date +%s)
  timeout 75 python3 -m innr_bench.cli run "$suite" --device cuda --out "/tmp/runs-$(basename "$suite" .yaml)" \
    --no-progress --reference none > "$OUT/$(basename "$suite" .yaml).log" 2>&1
  rc=$?
  echo "$suite from an empty cache: $(( $(date +%s) - start )) s (rc $rc)" | tee -a "$OUT/card.txt"
  rm -rf /tmp/innr-cache
done
cp -r /tmp/runs-mnist/mnist "$OUT/mnist-one-at-a-time" 2>/dev/null
cp -r /tmp/runs-mnist-stacked/mnist "$OUT/mnist-stacked" 2>/dev/null
# 3. is the card nondeterministic? the board twice one at a time, and stacked, default and deterministic
timeout 90 python3 benchmarks/card_determinism.py --device cuda --copies 8 --out "$OUT/determinism.json" 2>&1 | tail -8
# 4. AutoAttack a copy (goal <= 5 s on the seed CNN), one copy at a time and 4 stacked
timeout 120 python3 benchmarks/autoattack_stack.py --device cuda --copies 4 --limit 200 \
  --out "$OUT/autoattack.json" 2>&1 | tail -4
ls -la "$OUT"
