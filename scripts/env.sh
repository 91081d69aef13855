# Shared environment of polchain's scripts; `source scripts/env.sh`.
#
# The cargo target directory and the Python venv live outside the checkout, so that a fresh
# clone (CI's, or a second work tree) reuses the compiled tree and the 5 GB torch wheel.
POL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POL_CACHE="${POL_CACHE:-$HOME/.cache/polchain}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$POL_CACHE/target}"
export POL_VENV="${POL_VENV:-$POL_CACHE/venv}"
# libtorch comes from the PyPI torch wheel in the venv, at the version the tch crate expects.
export LIBTORCH_USE_PYTORCH=1
export POL_TORCH_VERSION="2.13.0"
export PATH="$POL_VENV/bin:$HOME/.cargo/bin:$PATH"
export POL_BIN="$CARGO_TARGET_DIR/release"
# The wasm builder looks for Cargo.lock above the target directory; ours is outside the checkout.
export WASM_BUILD_WORKSPACE_HINT="$POL_ROOT"
export POL_DATA="${POL_DATA:-$POL_CACHE/data}"
