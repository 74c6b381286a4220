#!/usr/bin/env bash
# Installs what overlayd's tests, demo and bench need on a fresh Debian machine, then builds.
# Idempotent: installs only what is missing. Needs root for apt-get (tests need root anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

# wireguard-go and wireguard-tools: the WireGuard implementation the wireguard backend interoperates
# with and is benched against; tcpdump: the underlay captures of its tests.
need_apt=()
for cmd in etcd:etcd-server etcdctl:etcd-client iperf3:iperf3 ping:iputils-ping iptables:iptables nft:nftables ip:iproute2 systemd-analyze:systemd openssl:openssl ethtool:ethtool \
  wireguard-go:wireguard-go wg:wireguard-tools tcpdump:tcpdump; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need_apt+=("${cmd##*:}")
done
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${need_apt[@]}"
fi

# npm ci builds the native addon (node-gyp, binding.gyp) as part of the install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
echo "setup: build"
npm run --silent build
