#!/usr/bin/env bash
# The device check of issue 26, as one prepared script for a lent H100/H200 (its 15 minutes of
# device time: one call, timeout ~500 s, and time left to rerun what failed). Prepare here first:
#
#   echo /.whl/ >> .git/info/exclude; echo /.gpu/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl pydantic pydantic-core annotated-types typing-inspection platformdirs
#   python benchmarks/write_idx.py .gpu          # full MNIST and Fashion-MNIST as IDX files
#
# then: run(command="bash benchmarks/gpu_check.sh", carry=[".whl", ".gpu"], timeout_s=540), and with
# the time left, benchmarks/gpu_fashion_subset.sh (suites/fashion-mnist.yaml, seed 0). The card
# issue's own figures (captured steps, the runner's batched fits, determinism, AutoAttack a copy)
# are benchmarks/gpu_card_pace.sh: one call of its own, the first to run when a card is lent.
# Every figure is written under $OUT with the card, torch and CUDA versions beside it.
set -uo pipefail
# shellcheck source=benchmarks/gpu_setup.sh
source benchmarks/gpu_setup.sh
# 1. distill on Fashion-MNIST lenet5 (goal <= 10 s, from 66.9 s on an H100), and the other recipes
timeout 200 python3 benchmarks/time_recipes.py --device cuda --recipes distill distill-quick fast \
  --json "$OUT/recipes.json" 2>&1 | tail -5
# 2. the per-step cost of every loop on the card (overhead share = tiny step / step)
timeout 120 python3 -m pytest -q benchmarks/test_step_cost.py --benchmark-only -s -k cuda -p no:cacheprovider \
  2>&1 | grep "ms/step" | tee "$OUT/step-cost.txt"
# 3. suites/mnist.yaml from an empty cache on the card (goal <= 60 s)
start=$(date +%s)
timeout 200 python3 -m innr_bench.cli run suites/mnist.yaml --device cuda --out /tmp/runs --no-progress \
  --reference none > "$OUT/mnist.log" 2>&1
echo "mnist.yaml from an empty cache: $(( $(date +%s) - start )) s" | tee -a "$OUT/card.txt"
grep -E "computed|stage times" "$OUT/mnist.log"
# 4. the inheritance board one copy at a time against copies stacked (vmap), on the card
timeout 150 python3 benchmarks/inheritance_stack.py --device cuda --copies 16 --stack 8 --targets seed-cnn lenet5 \
  --out "$OUT/inheritance-stack.json" 2>&1 | tail -4
# 5. several INNR fits of one shape in one step (vmap) against one after another, on the card
timeout 60 python3 benchmarks/fit_stack.py --device cuda --out "$OUT/fit-stack.json" 2>&1 | tail -6
