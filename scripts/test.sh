#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (-D warnings), unit tests, the
# hostile-token suite, the end-to-end tests over loopback (on SQLite, then again
# on a PostgreSQL cluster started by scripts/postgres.sh), the real-keychain test,
# the real window through WebDriver, the IdP's Debian package and the console's
# .deb/.rpm installed and run (debug builds), a short fuzzing run, and a short
# run of the benchmarks. `--full-bench` also runs the full benchmarks in release
# mode; `--release-packages` builds, installs and runs both packages in release.
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_tools
echo "==> UI: npm ci, types generated from the Rust contract, build"
build_ui
echo "==> UI: tsc, eslint, vitest"
(cd ui && npm run -s typecheck && npm run -s lint && npm test --silent)
echo "==> generated UI types match the checked-in contract"
git diff --exit-code -- ui/src/gen

echo "==> the OpenAPI document validates (openapi-spec-validator from PyPI)"
"$(ensure_py_tool openapi-spec-validator openapi-spec-validator)" openapi.json
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets -q -- -D warnings
echo "==> cargo build --bins (binaries the crash tests run)"
cargo build --workspace --bins -q
echo "==> the company IdP of the federation tests: panva's oidc-provider from npm"
(cd tests/upstream-oidc && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; })
echo "==> cargo test (the IdP on SQLite)"
cargo test --workspace -q
echo "==> PostgreSQL: Debian's package, a cluster of our own on a loopback port"
pg_url="$(./scripts/postgres.sh fresh)"
trap './scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
echo "==> the store's tables, the services and the end-to-end suite again, the IdP on PostgreSQL"
GATEHOUSE_POSTGRES="$pg_url" cargo test -q -p gatehouse-idp-store -p gatehouse-tests
GATEHOUSE_POSTGRES="$pg_url" cargo test -q -p gatehouse-idp --test services
echo "==> the login form in a real browser (Debian chromium, playwright-core)"
ensure_debian_packages chromium
(cd tests/browser && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } \
   && GATEHOUSE_DEMO_BIN="$CARGO_TARGET_DIR/debug/gatehouse-demo" SCREENSHOT_DIR="${SCREENSHOT_DIR:-}" npm test --silent)
echo "==> schema-driven fuzzing of the admin API against its served document (schemathesis from PyPI, short)"
schemathesis="$(ensure_py_tool schemathesis schemathesis)"
"$(dirname "$schemathesis")/python" tests/api-fuzz/run.py "$CARGO_TARGET_DIR/debug/gatehouse-demo" "$schemathesis" 10
echo "==> the official MCP SDKs as peers of our MCP server and its AS (TypeScript from npm, Python from PyPI)"
(cd tests/mcp-sdk && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; })
mcp_py="$HOME/.cache/gatehouse-py-mcp"
[ -x "$mcp_py/bin/python" ] || python3 -m venv "$mcp_py"
"$mcp_py/bin/python" -c 'import importlib.metadata as m; assert m.version("mcp") == "2.3.0"' 2>/dev/null \
  || "$mcp_py/bin/pip" install -q --disable-pip-version-check "mcp==2.3.0"
GATEHOUSE_MCP_SDKS="$mcp_py/bin/python" cargo test -q -p gatehouse-tests --test mcp_sdks
echo "==> SCIM: the RFC 7643/7644 conformance checker and a connector, both third-party (scim2-tester, scim2-client from PyPI)"
scim_py="$HOME/.cache/gatehouse-py-scim"
[ -x "$scim_py/bin/python" ] || python3 -m venv "$scim_py"
"$scim_py/bin/python" -c 'import importlib.metadata as m; assert m.version("scim2-tester") == "0.5.2" and m.version("scim2-client") == "0.13.2"; import httpx2' 2>/dev/null \
  || "$scim_py/bin/pip" install -q --disable-pip-version-check "scim2-tester==0.5.2" "scim2-client[httpx2]==0.13.2"
"$scim_py/bin/python" tests/scim-client/run.py "$CARGO_TARGET_DIR/debug/gatehouse-demo"
echo "==> the IdP's /metrics parsed by the reference Prometheus parser (prometheus-client from PyPI)"
"$mcp_py/bin/python" -c 'import prometheus_client' 2>/dev/null \
  || "$mcp_py/bin/pip" install -q --disable-pip-version-check "prometheus-client==0.21.1"
GATEHOUSE_PROM_PARSER="$mcp_py/bin/python" cargo test -q -p gatehouse-tests --test metrics
echo "==> the IdP's Debian package: apt install, its unit's constraints, /readyz, a backup, purge"
./scripts/idp-package-test.sh --debug
echo "==> the real OS keychain (gnome-keyring under dbus-run-session)"
./scripts/keychain-tests.sh
echo "==> the desktop app starts headless in demo mode and shows the queue"
./scripts/app-smoke.sh
echo "==> WebDriver end to end of the real window (approve, agent, revoke, receipts, audit)"
./scripts/webdriver-tests.sh
echo "==> fuzzing, a short run of each target (./scripts/fuzz.sh --minutes 10 for the long one)"
./scripts/fuzz.sh --seconds 10
echo "==> benchmark (quick)"
cargo test -q -p gatehouse-tests --bench xaa_exchange -- --quick
cargo test -q -p gatehouse-tests --bench revocation -- --quick
cargo test -q -p gatehouse-tests --bench signin_storm -- --quick
GATEHOUSE_POSTGRES="$pg_url" cargo test -q -p gatehouse-tests --bench cluster -- --quick
GATEHOUSE_POSTGRES="$pg_url" cargo test -q -p gatehouse-tests --bench audit_verify -- --quick
./scripts/console-bench.sh --quick
echo "==> the console's .deb and .rpm (tauri build, debug): installed with apt, launched under Xvfb, purged"
./scripts/bundle-test.sh
if [ "${1:-}" = "--release-packages" ]; then
  ./scripts/idp-package-test.sh --release
  ./scripts/bundle-test.sh --release
fi
if [ "${1:-}" = "--full-bench" ]; then
  cargo bench -p gatehouse-tests --bench xaa_exchange
  cargo bench -p gatehouse-tests --bench revocation
  cargo bench -p gatehouse-tests --bench signin_storm
  GATEHOUSE_POSTGRES="$pg_url" cargo bench -p gatehouse-tests --bench cluster
  GATEHOUSE_POSTGRES="$pg_url" cargo bench -p gatehouse-tests --bench audit_verify
  ./scripts/console-bench.sh
fi
echo "==> all checks passed"
