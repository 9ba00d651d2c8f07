#!/usr/bin/env bash
# Builds the psychrnn-rs wheel (the psychrnn binary + the psychrnn_rs package) and runs the
# Python tests against it, installed with one `pip install` into a fresh virtual environment.
# Usage: python/test_wheel.sh   (from anywhere; needs python3 >= 3.9 with venv, cargo, network
# access to PyPI for maturin and the test dependencies). The wheel lands in target/wheels/.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

python3 -m venv "$scratch/build"
"$scratch/build/bin/pip" install -q --disable-pip-version-check "maturin>=1.5,<2"
rm -rf target/wheels
start=$(date +%s)
"$scratch/build/bin/maturin" build --release --out target/wheels
echo "python: maturin build took $(( $(date +%s) - start )) s"
wheel=$(ls target/wheels/psychrnn_rs-*.whl)

# The user's side: a fresh venv and one pip install (numpy and pyyaml come with it; the
# `test` extra adds pandas, pytest and the notebook runner).
python3 -m venv "$scratch/user"
"$scratch/user/bin/pip" install -q --disable-pip-version-check "$wheel[test]"
unset PSYCHRNN_BIN
(cd "$scratch" && user/bin/psychrnn --version && user/bin/python -c "import psychrnn_rs, sys; print('psychrnn_rs from', psychrnn_rs.__file__)")
# -p no:cacheprovider: nothing written into the repository; the tests import the installed
# package (python/ is not on sys.path).
"$scratch/user/bin/python" -m pytest -q -p no:cacheprovider python/tests
