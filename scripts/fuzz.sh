#!/usr/bin/env bash
# Fuzzes every parser that reads untrusted input (targets in tests/fuzz, seed
# corpora committed in tests/fuzz/corpus) with cargo-fuzz on the nightly
# toolchain. `--seconds N` runs each target N seconds (default 10: the short run
# in CI); `--minutes M` is the long local run. New inputs the fuzzer finds go to
# a temporary directory, so the checkout stays clean; a crash fails the script
# and leaves its input under the printed artifacts directory.
cd "$(dirname "$0")/.."
. scripts/lib.sh
seconds=10
case "${1:-}" in
  --seconds) seconds="$2" ;;
  --minutes) seconds=$(( $2 * 60 )) ;;
  "") ;;
  *) echo "usage: $0 [--seconds N | --minutes M]" >&2; exit 2 ;;
esac
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo-fuzz" ] \
  || cargo install cargo-fuzz --locked --quiet
export PATH="$HOME/.cargo/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "==> building the fuzz targets (nightly, address sanitizer)"
cargo +nightly fuzz build --fuzz-dir tests/fuzz -O >/dev/null
for t in $(cargo +nightly fuzz list --fuzz-dir tests/fuzz); do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  echo "==> fuzz $t for ${seconds}s"
  cargo +nightly fuzz run --fuzz-dir tests/fuzz -O "$t" "$work/corpus/$t" "tests/fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -max_len=16384 -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|.*panicked)" || true
  if [ -n "$(ls -A "$work/artifacts/$t")" ]; then
    keep="${TMPDIR:-/tmp}/gatehouse-fuzz-artifacts/$t"
    mkdir -p "$keep" && cp "$work/artifacts/$t"/* "$keep/"
    echo "fuzz target $t crashed; inputs in $keep" >&2
    exit 1
  fi
done
echo "==> fuzzing found no crash"
