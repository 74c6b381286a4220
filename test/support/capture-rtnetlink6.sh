#!/bin/bash
# Re-captures the IPv6 rtnetlink known answers in test/support/rtnetlink-captures6.ts: runs each
# iproute2 command under strace in a throwaway namespace and prints strace's hex dumps of the
# netlink buffers, one "### LABEL: command" section per command. The hex of the request
# (sendmsg of the type named in the file) or of the kernel's reply (recvmsg) goes into the file.
# Needs root, iproute2 and strace. Nothing leaves the namespace; addresses are ULA only.
set -euo pipefail
NS=v6cap-$$
ip netns add "$NS"
trap 'ip netns del "$NS"' EXIT
X() { ip netns exec "$NS" "$@"; }
X ip link set lo up
X ip link add eth0 type veth peer name eth1
X ip addr add fd00:198:18::1/64 dev eth0 nodad
X ip link set eth0 up
X ip link set eth1 up
cap() {
  local label=$1
  shift
  echo "### $label: $*"
  X strace -e trace=sendmsg,recvmsg -e write=all -e read=all "$@" 2>&1 >/dev/null
}
cap VXLAN6_ADD ip link add flannel-v6.1 address 02:00:00:00:00:01 mtu 1430 type vxlan id 1 \
  local fd00:198:18::1 dev eth0 dstport 8472 nolearning
X sysctl -qw net/ipv6/conf/flannel-v6.1/accept_ra=0
X ip link set flannel-v6.1 up
cap ADDR6_ADD ip -6 addr replace fd00:10:244:1::/128 dev flannel-v6.1
cap NEIGH6_REPLACE ip -6 neigh replace fd00:10:244:3:: lladdr c6:d2:32:6f:8f:44 dev flannel-v6.1 nud permanent
cap FDB6_REPLACE bridge fdb replace c6:d2:32:6f:8f:44 dev flannel-v6.1 dst fd00:198:18::2 self permanent
cap ROUTE6_ONLINK ip -6 route replace fd00:10:244:3::/64 via fd00:10:244:3:: dev flannel-v6.1 onlink proto 77
cap ROUTE6_HOSTGW ip -6 route replace fd00:10:244:4::/64 via fd00:198:18::2 dev eth0 proto 77
cap DUMP6_ROUTE ip -6 route show proto 77
cap DUMP6_NEIGH ip -6 neigh show dev flannel-v6.1 nud permanent
cap DUMP6_FDB bridge fdb show dev flannel-v6.1
cap DUMP6_LINK ip -d link show dev flannel-v6.1
cap DUMP6_ADDR ip -6 addr show dev flannel-v6.1
cap ROUTE6_GET ip -6 route get fd00:198:18::2
cap ROUTE6_DEL ip -6 route del fd00:10:244:4::/64 via fd00:198:18::2 dev eth0 proto 77
cap NEIGH6_DEL ip -6 neigh del fd00:10:244:3:: dev flannel-v6.1
cap FDB6_DEL bridge fdb del c6:d2:32:6f:8f:44 dev flannel-v6.1 dst fd00:198:18::2 self
cap ADDR6_DEL ip -6 addr del fd00:10:244:1::/128 dev flannel-v6.1
