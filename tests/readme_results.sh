#!/usr/bin/env bash
# The README's table of bundled-script results, remeasured: trains every script in scripts/ with
# seeds 0..N-1 (default 3) and prints one markdown row per script with its units and the range over
# the seeds of the test accuracy (512 fresh trials), the iterations trained and why training stopped, and the
# training time. Every number in the README's table comes from this command:
#
#     cargo build --release && bash tests/readme_results.sh 3
#
# ONLY='two_area*' remeasures the scripts whose name matches that glob (their rows only).
#
# Runs go to $OUT (default: a temporary folder, removed at the end). Nothing here depends on the
# machine's speed except the time column: no script stops on a wall-clock limit.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
exe=${PSYCHRNN:-target/release/psychrnn}
out=${OUT:-$(mktemp -d)}
keep=${OUT:+1}
value() { awk -v k="$1:" '$1 == k { print $2; exit }' "$2"; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (lo == hi) print lo; else print lo "–" hi }'; }
echo "| script | units | seeds | test accuracy (512 trials) | iterations (stop) | training time |"
echo "| --- | --- | --- | --- | --- | --- |"
for script in scripts/*.rhai; do
  name=$(basename "$script" .rhai)
  # shellcheck disable=SC2053
  [[ $name == ${ONLY:-*} ]] || continue
  acc=() its=() secs=() stops=()
  for ((seed = 0; seed < seeds; seed++)); do
    dir="$out/$name-$seed"
    "$exe" run "$script" --seed "$seed" --out "$dir" --overwrite --quiet >/dev/null
    s="$dir/summary.yaml"
    acc+=("$(printf '%.3f' "$(value final_accuracy "$s")")")
    its+=("$(value iterations "$s")")
    secs+=("$(printf '%.1f' "$(value wall_seconds "$s")")")
    stops+=("$(value stop_reason "$s")")
  done
  stop=$(printf '%s\n' "${stops[@]}" | sort -u | paste -sd/ -)
  units=$(value n_rec "$out/$name-0/config.yaml")
  printf '| `%s.rhai` | %s | 0–%d | %s | %s (%s) | %s s |\n' "$name" "$units" "$((seeds - 1))" \
    "$(printf '%s\n' "${acc[@]}" | range)" "$(printf '%s\n' "${its[@]}" | range)" "$stop" \
    "$(printf '%s\n' "${secs[@]}" | range)"
done
[ -n "$keep" ] || rm -rf "$out"
