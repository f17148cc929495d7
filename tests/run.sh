#!/usr/bin/env bash
# The whole test suite, as README.md documents it and CI runs it.
# Installs what the tests need when it is missing (Debian packages), then runs
# formatting, lints and every test against real servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests use beyond Rust: python3 (examples/python_client.py), curl
# (`cpos sign --curl`), kill (procps), Node.js and npm (the MCP peers), the
# python3 venv module (the Python MCP SDK),
# bubblewrap and git (the sandbox runner and diff validation), Chromium and
# ChromeDriver (the dashboard's browser test), nginx with its njs module (the
# mTLS front in deploy/nginx), redis-server and redis-cli (shared state for
# many replicas: tests start their own servers on free loopback ports).
need_pkgs=()
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v kill >/dev/null || need_pkgs+=(procps)
command -v node >/dev/null || need_pkgs+=(nodejs)
command -v npm >/dev/null || need_pkgs+=(npm)
command -v bwrap >/dev/null || need_pkgs+=(bubblewrap)
command -v git >/dev/null || need_pkgs+=(git)
command -v pgrep >/dev/null || need_pkgs+=(procps)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v chromedriver >/dev/null || need_pkgs+=(chromium-driver)
command -v nginx >/dev/null || need_pkgs+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_http_js_module.so ] || need_pkgs+=(libnginx-mod-http-js)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v redis-cli >/dev/null || need_pkgs+=(redis-tools)
# Sandboxed commands see only the system's /usr: they need Debian's python3.
[ -x /usr/bin/python3 ] || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need_pkgs[*]}"
    apt-get update -qq
    # Packages must not start services (nginx would bind port 80): tests
    # start what they need on loopback themselves.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
    [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
  else
    echo "missing packages: ${need_pkgs[*]} (run as root or install them)" >&2
    exit 1
  fi
fi

# The MCP peers nobody here wrote, at the versions pinned in
# tests/mcp/package-lock.json: the reference server and the TypeScript SDK.
peers=tests/mcp/node_modules/@modelcontextprotocol
if [ ! -d "$peers/sdk" ] || [ ! -d "$peers/server-everything" ]; then
  echo "installing the MCP test peers (npm ci in tests/mcp)"
  npm ci --prefix tests/mcp --no-audit --no-fund --loglevel=error
fi

# The official Python MCP SDK, pinned in tests/mcp/requirements.txt, in a
# venv of its own under target/.
if ! target/pyenv/bin/python -c "import mcp" 2>/dev/null; then
  echo "installing the Python MCP SDK (pip, tests/mcp/requirements.txt)"
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install --quiet --disable-pip-version-check -r tests/mcp/requirements.txt
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet 2>&1 | tee target/test-output.txt
