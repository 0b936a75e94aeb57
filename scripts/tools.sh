#!/usr/bin/env bash
# Installs the tools the tests need that no Debian package provides, once per machine: the
# Kafka-protocol broker tansu (built from crates.io; ~20 minutes the first time, then cached
# in $EVENTFLUX_TOOLS, default ~/.cache/eventflux-tools). Safe to run repeatedly.
set -euo pipefail
tools="${EVENTFLUX_TOOLS:-$HOME/.cache/eventflux-tools}"
TANSU_VERSION=0.6.0
if [ -x "$tools/bin/tansu" ] && "$tools/bin/tansu" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "tools: tansu $TANSU_VERSION already installed in $tools/bin"
else
  echo "tools: installing tansu $TANSU_VERSION into $tools (first time only)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql --root "$tools"
fi
