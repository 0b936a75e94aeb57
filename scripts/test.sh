#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every test of the workspace (unit,
# golden end-to-end through the real binary, property tests and the parser fuzz test).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
