# Shared by scripts/demo.sh and scripts/test.sh: install what is missing, skip what is there.
set -euo pipefail

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages needed to build the workspace, the Tauri app, and to run it headless.
DEBIAN_PACKAGES=(build-essential pkg-config curl ca-certificates
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev librsvg2-dev libayatana-appindicator3-dev
  xvfb xauth x11-utils imagemagick gnome-keyring dbus-x11 libsecret-tools webkit2gtk-driver
  openssl)  # openssl: the syslog-over-TLS test makes its CA and certificate with it

ensure_debian_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] || {
      echo "==> installing the Rust toolchain (rustup)"
      curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
    }
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt 2>/dev/null || true
}

ensure_build_tools() {
  if command -v dpkg-query >/dev/null 2>&1; then ensure_debian_packages "${DEBIAN_PACKAGES[@]}"; fi
  ensure_rust
}

ensure_node() {
  command -v npm >/dev/null 2>&1 || ensure_debian_packages nodejs npm
}

# Installs the UI's npm packages (from the lock file), regenerates its types from
# the Rust contract, and builds it into ui/dist (which the Tauri app embeds).
build_ui() {
  ensure_node
  (cd ui && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } \
     && npm run -s gen && npm run -s build)
}

# A Python tool from PyPI in a virtual environment under ~/.cache (pip package, command).
ensure_py_tool() {
  local venv="$HOME/.cache/gatehouse-py"
  [ -x "$venv/bin/python" ] || { ensure_debian_packages python3-venv >&2; python3 -m venv "$venv" >&2; }
  [ -x "$venv/bin/$2" ] || "$venv/bin/pip" install -q --disable-pip-version-check "$1" >&2
  echo "$venv/bin/$2"
}
