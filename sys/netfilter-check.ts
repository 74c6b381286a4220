/**
 * flanneld exits when br_netfilter is absent, which crash-loops rootless and usernetes nodes (its
 * users' top complaint). We warn with the fix and go on: pod-to-pod traffic on one bridge then
 * bypasses iptables, which only matters for NetworkPolicy and kube-proxy hairpin.
 */
import { existsSync } from 'node:fs';

export function brNetfilterWarning(
  procPath = '/proc/sys/net/bridge/bridge-nf-call-iptables',
): string | undefined {
  if (existsSync(procPath)) return undefined;
  return `${procPath} is missing: br_netfilter is not loaded, so bridged pod traffic skips iptables; fix with "modprobe br_netfilter" (and add it to /etc/modules-load.d/) unless this node is rootless`;
}
