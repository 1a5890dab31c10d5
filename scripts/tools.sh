#!/usr/bin/env bash
# Installs, idempotently, every tool the demo, the tests and the benchmarks need.
# Each step checks first and does nothing when the right version is already there.
#
#   scripts/tools.sh            every default step (cyclonedx, for scripts/image, only when named)
#   scripts/tools.sh <step>...  only the named steps (see `steps` below)
#
# Sourced by scripts/demo, scripts/test and scripts/bench; safe to run on its own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.11"
FERRO_OCI_VERSION="1.0.0"
CYCLONEDX_VERSION="0.5.9"
APT_PACKAGES=(docker-registry chromium skopeo postgresql buildah jq)

log() { printf '\033[1;34m[tools]\033[0m %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Cargo builds of tools: no fat LTO, many codegen units, light optimisation (the
# tools' own release profiles took ~50 min here; they only orchestrate builds).
tool_build_env() {
  export CARGO_PROFILE_RELEASE_LTO=false
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  export CARGO_PROFILE_RELEASE_DEBUG=false
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
}

# Unpacks a crate's published source into a scratch dir and prints its path.
crate_source() {
  local name=$1 version=$2 dir
  dir="${TMPDIR:-/tmp}/portolan-tools/$name-$version"
  if [ ! -f "$dir/Cargo.toml" ]; then
    mkdir -p "$(dirname "$dir")"
    curl -fsSL "https://static.crates.io/crates/$name/$name-$version.crate" | tar -xz -C "$(dirname "$dir")"
  fi
  printf '%s\n' "$dir"
}

# Debian packages: docker-registry (CNCF distribution, the registry of the demo and the tests),
# chromium (end-to-end tests), skopeo (benchmarks; pushing the image), postgresql (the shared
# store's tests), buildah and jq (building the image: scripts/image). APT_ONLY="docker-registry"
# narrows it.
step_apt() {
  local missing=() wanted
  read -r -a wanted <<< "${APT_ONLY:-${APT_PACKAGES[*]}}"
  for p in "${wanted[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

step_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    log "rustup: adding wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  }
  # rustup's minimal profile has neither; scripts/test needs both.
  local installed
  installed=$(rustup component list --installed)
  for c in clippy rustfmt; do
    grep -q "^$c" <<<"$installed" || { log "rustup: adding $c"; rustup component add "$c"; }
  done
}

step_cargo_leptos() {
  if have cargo-leptos && [ "$(cargo-leptos --version 2>/dev/null | awk '{print $2}')" = "$CARGO_LEPTOS_VERSION" ]; then
    return
  fi
  log "cargo-leptos $CARGO_LEPTOS_VERSION: building from source (takes a while, once)"
  local src
  src=$(crate_source cargo-leptos "$CARGO_LEPTOS_VERSION")
  # Its lock file pins cargo-util-schemas 0.14.2, which needs a newer rustc.
  (cd "$src" && cargo update -q -p cargo-util-schemas --precise 0.14.1)
  tool_build_env
  cargo install -q --locked --path "$src" --features no_downloads --force
}

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
step_wasm_bindgen() {
  local want
  want=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;q}' "$ROOT/Cargo.lock")
  [ -n "$want" ] || { log "no wasm-bindgen in Cargo.lock"; return 1; }
  if have wasm-bindgen && [ "$(wasm-bindgen --version | awk '{print $2}')" = "$want" ]; then
    return
  fi
  log "wasm-bindgen-cli $want: building from source"
  local src
  src=$(crate_source wasm-bindgen-cli "$want")
  # Its lock file pins webpki-roots 1.0.11, which the registry no longer serves.
  if grep -q 'name = "webpki-roots"' "$src/Cargo.lock"; then
    (cd "$src" && cargo update -q -p webpki-roots --precise 1.0.10) || {
      log "wasm-bindgen-cli $want: pinning webpki-roots to 1.0.10 in its Cargo.lock failed (see cargo's message above);"
      log "its --locked build would ask for a version the registry no longer serves. Fix the pin in step_wasm_bindgen."
      return 1
    }
  fi
  tool_build_env
  cargo install -q --locked --path "$src" --force
}

step_ferro() {
  if have ferro-oci-server && cargo install --list | grep -q "^ferro-oci-server v$FERRO_OCI_VERSION:"; then
    return
  fi
  log "ferro-oci-server $FERRO_OCI_VERSION: building"
  tool_build_env
  cargo install -q --locked ferro-oci-server --version "$FERRO_OCI_VERSION"
}

# cargo-cyclonedx: the image's SBOM of its Rust dependencies (scripts/image only; not in the
# default steps).
step_cyclonedx() {
  if have cargo-cyclonedx && cargo install --list | grep -q "^cargo-cyclonedx v$CYCLONEDX_VERSION:"; then
    return
  fi
  log "cargo-cyclonedx $CYCLONEDX_VERSION: building"
  tool_build_env
  cargo install -q --locked cargo-cyclonedx --version "$CYCLONEDX_VERSION"
}

# Node tools (playwright-core drives Chromium; npm's binaryen gives a wasm-opt that
# keeps hydration working, unlike Debian's binaryen 108).
step_node() {
  if [ ! -x "$ROOT/end2end/node_modules/.bin/wasm-opt" ] || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    log "npm: installing end2end/ packages"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The steps run by default (cyclonedx only when asked: scripts/image asks).
steps() { printf '%s\n' apt wasm_target node cargo_leptos wasm_bindgen ferro; }

main() {
  local s
  if [ $# -eq 0 ]; then set -- $(steps); fi
  for s in "$@"; do "step_$s"; done
}

# Puts the project's tools first on PATH (npm's wasm-opt before /usr/bin's).
tools_path() {
  export PATH="$ROOT/end2end/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
