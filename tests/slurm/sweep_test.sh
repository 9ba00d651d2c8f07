#!/usr/bin/env bash
# Submits a small sweep to the real SLURM started by start_cluster.sh, waits for it, and checks
# that every run directory holds its results and that collect summarises them.
# Usage: tests/slurm/sweep_test.sh [path/to/psychrnn]   (run from the repository root)
set -euo pipefail
bin=${1:-target/release/psychrnn}
bin=$(realpath "$bin")
dir=$(mktemp -d /tmp/psychrnn-slurm-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "slurm sweep test FAILED: $*" >&2; cat "$dir"/sweep/logs/* 2>/dev/null | tail -40 >&2; exit 1; }

"$bin" sweep scripts/perceptual_discrimination.rhai --slurm --out "$dir/sweep" \
  --grid model.n_rec=6,10 --seeds 2 \
  --set train.iterations=20 --set train.batch_size=8 --set train.eval_trials=8 --set train.test_trials=16 \
  | tee "$dir/submit.txt"
grep -q "submitted SLURM array job" "$dir/submit.txt" || fail "no job submitted"
grep -q "#SBATCH --array=0-3" "$dir/sweep/sweep.sbatch" || fail "sbatch script lacks the 4-task array"

for _ in $(seq 1 300); do
  status=$("$bin" sweep status "$dir/sweep")
  if echo "$status" | tail -1 | grep -q "4 runs: 4 done"; then break; fi
  if echo "$status" | grep -q "^failed"; then echo "$status"; fail "a run failed"; fi
  sleep 1
done
echo "$status"
echo "$status" | tail -1 | grep -q "4 runs: 4 done" || fail "the sweep did not finish in 300 s"

for run in n_rec=6_seed=0 n_rec=6_seed=1 n_rec=10_seed=0 n_rec=10_seed=1; do
  for f in config.yaml weights.npz history.csv summary.yaml trials.npz report/index.html; do
    [ -f "$dir/sweep/$run/$f" ] || fail "$run/$f is missing"
  done
done
grep -q "  n_rec: 10" "$dir/sweep/n_rec=10_seed=1/config.yaml" || fail "the grid setting did not reach the run"
grep -q "^seed: 1" "$dir/sweep/n_rec=10_seed=1/config.yaml" || fail "the seed did not reach the run"

"$bin" collect "$dir/sweep"
rows=$(grep -c ",done," "$dir/sweep/sweep.csv")
[ "$rows" = 4 ] || fail "sweep.csv has $rows done rows, expected 4"
[ -f "$dir/sweep/report/comparison.png" ] || fail "no comparison figure"
echo "slurm sweep test: 1 passed, 0 failed"
