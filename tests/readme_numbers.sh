#!/usr/bin/env bash
# Every machine-dependent number in README.md, remeasured by one command:
#
#     cargo build --release && bash tests/readme_numbers.sh [SEEDS] [--cold-build]
#
# It prints, section by section, the numbers of:
#   1. "Set up": the cold `cargo build --release` (only with --cold-build: it builds every
#      dependency again in a scratch target directory, minutes);
#   2. "Speed", end to end: the quick-start command `psychrnn run
#      scripts/perceptual_discrimination.rhai` timed whole (test trials, files, report) and its
#      training time, on all cores and with --threads 1, and stopped at 90% accuracy;
#   3. "Speed" and "Command line" (bench): `psychrnn bench --model` and `psychrnn bench`;
#   4. the table of bundled-script results (tests/readme_results.sh SEEDS, default 3), which the
#      README's first screen and the curriculum and Dale sections cite.
# Ranges are over seeds 0..SEEDS-1 (or over SEEDS repeats for the bench). Nothing here depends
# on the machine except the times: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=3 cold=
for arg in "$@"; do
  case "$arg" in
    --cold-build) cold=1 ;;
    *) seeds=$arg ;;
  esac
done
exe=${PSYCHRNN:-target/release/psychrnn}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
value() { awk -v k="$1:" '$1 == k { print $2; exit }' "$2"; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (lo == hi) print lo; else print lo "–" hi }'; }
now() { date +%s.%N; }

if [ -n "$cold" ]; then
  echo "## 1. Set up: cold release build"
  start=$(now)
  CARGO_TARGET_DIR="$out/cold-target" cargo build --release --quiet
  awk -v s="$start" -v e="$(now)" 'BEGIN { printf "cargo build --release, cold: %.1f min on %d cores\n", (e - s) / 60, '"$(nproc)"' }'
  rm -rf "$out/cold-target"
  echo
fi

echo "## 2. Speed: the quick-start run end to end (seeds 0–$((seeds - 1)))"
quick() { # label, then extra run flags
  local label=$1 total=() train=() acc=() its=()
  shift
  for ((seed = 0; seed < seeds; seed++)); do
    local dir="$out/quick-$seed" start
    start=$(now)
    "$exe" run scripts/perceptual_discrimination.rhai --seed "$seed" --out "$dir" --overwrite --quiet "$@" >/dev/null
    total+=("$(awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }')")
    train+=("$(printf '%.2f' "$(value wall_seconds "$dir/summary.yaml")")")
    acc+=("$(printf '%.3f' "$(value final_accuracy "$dir/summary.yaml")")")
    its+=("$(value iterations "$dir/summary.yaml")")
  done
  printf '%s: %s iterations, training %s s, whole run %s s, test accuracy %s\n' "$label" \
    "$(printf '%s\n' "${its[@]}" | range)" "$(printf '%s\n' "${train[@]}" | range)" \
    "$(printf '%s\n' "${total[@]}" | range)" "$(printf '%s\n' "${acc[@]}" | range)"
}
quick "all cores"
quick "--threads 1" --threads 1
quick "stop_at_accuracy=0.9" --set train.stop_at_accuracy=0.9
echo

echo "## 3. Speed and Command line: psychrnn bench --model, psychrnn bench"
"$exe" bench --model
"$exe" bench
echo

echo "## 4. The table of bundled-script results"
bash tests/readme_results.sh "$seeds"
