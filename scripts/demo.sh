#!/usr/bin/env bash
# The demo command: install what is missing, build, then bring up a three-node overlayd cluster in
# network namespaces. Pass --backend udp|vxlan|host-gw, --ipv6 (dual-stack) and --check (verify and exit 0/1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec node dist/test/demo/demo.js "$@"
