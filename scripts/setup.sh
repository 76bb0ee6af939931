#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for Runnel: system packages, Rust components, the Python
# test clients, then builds and installs the `runnel` binary (release) into ~/.cargo/bin.
#
#   scripts/setup.sh              # everything, then `runnel serve` works
#   scripts/setup.sh --deps-only  # only what building and testing need (used by CI)
set -euo pipefail
cd "$(dirname "$0")/.."

deps_only=false
[[ "${1:-}" == "--deps-only" ]] && deps_only=true

sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)

# clang/libclang: RocksDB's bindings (bindgen); psql: the smoke test and the tour;
# python3-pip: the client test suite; Java and Maven: the Apache Kafka broker of the tests
# (tests/kafka/broker.sh fetches its jars from Maven Central).
packages=(clang libclang-dev postgresql-client python3-pip build-essential pkg-config)
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is required (rustup with a toolchain >= 1.94)" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages -r tests/python/requirements.txt

if ! $deps_only; then
  cargo install --locked --path server
  echo "setup: installed $(command -v runnel || echo "$HOME/.cargo/bin/runnel")"
fi
