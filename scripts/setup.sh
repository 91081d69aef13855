#!/usr/bin/env bash
# Installs what polchain needs to build, run and test. Idempotent, and quick when done.
#   - Debian packages: protobuf-compiler, clang, libclang-dev; curl and jq for the test scripts
#   - rustup: wasm32v1-none and wasm32-unknown-unknown targets, rust-src
#   - a Python venv with torch (the version tch expects) and scikit-learn; `.venv` links to it
#   - the UCI digits data set, exported from scikit-learn's copy into $POL_DATA
#   - npm ci in scripts/js
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$POL_ROOT"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Debian packages
missing=()
for pkg in protobuf-compiler clang libclang-dev curl jq; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
	step "apt-get install ${missing[*]}"
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Rust targets for the runtime's wasm; the wasm builder prefers wasm32v1-none on Rust >= 1.84.
installed_targets="$(rustup target list --installed)"
for target in wasm32v1-none wasm32-unknown-unknown; do
	grep -qx "$target" <<<"$installed_targets" || { step "rustup target add $target"; rustup target add "$target"; }
done
grep -q '^rust-src' <<<"$(rustup component list --installed)" || { step "rustup component add rust-src"; rustup component add rust-src; }

# Python venv with the torch wheel tch links against.
if [ ! -x "$POL_VENV/bin/python" ]; then
	step "python venv at $POL_VENV"
	mkdir -p "$(dirname "$POL_VENV")"
	python3 -m venv "$POL_VENV"
fi
have_torch="$("$POL_VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
have_sklearn="$("$POL_VENV/bin/python" -c 'import sklearn; print("yes")' 2>/dev/null || true)"
if [ "$have_torch" != "$POL_TORCH_VERSION" ] || [ "$have_sklearn" != "yes" ]; then
	step "pip install torch==$POL_TORCH_VERSION scikit-learn numpy (a few GB the first time)"
	"$POL_VENV/bin/python" -m pip install -q --upgrade pip
	"$POL_VENV/bin/python" -m pip install -q "torch==$POL_TORCH_VERSION" scikit-learn numpy
fi
# `.venv` in the checkout (git-ignored) points at the shared venv.
if [ ! -e .venv ] || { [ -L .venv ] && [ "$(readlink .venv)" != "$POL_VENV" ]; }; then
	ln -sfn "$POL_VENV" .venv
fi

# The UCI digits, exported from scikit-learn's copy (no download).
if [ ! -f "$POL_DATA/digits/meta.json" ]; then
	step "export the digits data set to $POL_DATA/digits"
	"$POL_VENV/bin/python" scripts/data/export_digits.py "$POL_DATA"
fi

# JavaScript dependencies (pinned by package-lock.json).
if [ ! -d scripts/js/node_modules ] || [ scripts/js/package-lock.json -nt scripts/js/node_modules/.package-lock.json ]; then
	step "npm ci (scripts/js)"
	(cd scripts/js && npm ci --no-audit --no-fund --loglevel=error)
fi

step "setup done"
