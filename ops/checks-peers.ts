/**
 * Per-peer probes through the real datapath: an ICMP echo to the peer's overlay address through our
 * device, its round trip, and the largest packet that passes with DF set against FLANNEL_MTU. A peer
 * that does not answer through the overlay while its PublicIP answers plain ping has its
 * encapsulation port blocked (firewall, security group, NSX) — or its kernel entries here are
 * missing, which the kernel checks name. Pure.
 */
import { formatCidr, formatIpv4 } from '../core/ipv4.js';
import { fail, ok, warn, type Check } from './check.js';
import type { Context } from './context.js';
import type { Facts, PeerProbe } from './facts.js';

export function checkPeers(f: Facts, ctx: Context, kernelChecks: readonly Check[]): Check[] {
  if (!f.probes) return [];
  if (f.probes.length === 0)
    return [ok('peer', 'peer.none', 'peers answer through the overlay', 'no peers to probe')];
  const envMtu = Number(f.local.subnetEnv?.['FLANNEL_MTU'] ?? ctx.expectedMtu ?? 0);
  return f.probes.map((p) => one(f, p, ctx, envMtu, kernelChecks));
}

function one(f: Facts, p: PeerProbe, ctx: Context, podMtu: number, kernelChecks: readonly Check[]): Check {
  const s = formatCidr(p.subnet);
  const pub = formatIpv4(p.publicIp);
  const target = formatIpv4(p.target);
  const id = `peer.${s}`;
  const title = `peer ${s} (${pub})`;
  const proto = ctx.backend === 'host-gw' ? undefined : `UDP ${ctx.udpPort ?? '?'}`;
  if (!p.overlay.ok) {
    const kernelBad = kernelChecks.find((c) => c.id === `kernel.peer.${s}` && c.verdict === 'fail');
    if (kernelBad)
      return fail(
        'peer',
        id,
        title,
        `no echo reply from ${target}; this node's kernel entries for the peer are wrong (${kernelBad.evidence})`,
        kernelBad.fix,
      );
    if (p.underlay?.ok && proto)
      return fail(
        'peer',
        id,
        title,
        `no echo reply from ${target} through the overlay, but ${pub} answers ping${rtt(p.underlay.rttMs)}: ${proto} to ${pub} blocked?`,
        `allow ${proto} between the nodes (firewall, security group, NSX): e.g. iptables -I INPUT -p udp --dport ${ctx.udpPort} -j ACCEPT on ${pub} and here; check: tcpdump -ni any udp port ${ctx.udpPort}`,
      );
    if (p.underlay?.ok && ctx.backend === 'host-gw')
      return warn(
        'peer',
        id,
        title,
        `no echo reply from ${target} (the peer's cni0 gateway), though ${pub} answers ping`,
        `check the peer has pods (cni0 exists there) and its ip_forward/FORWARD settings: overlayd diagnose on ${pub}`,
      );
    return fail(
      'peer',
      id,
      title,
      `no echo reply from ${target}, and ${pub} does not answer ping either: the node is down or unreachable`,
      `check the node ${pub} is up and routable from here (ip route get ${pub}); delete its lease if it is gone`,
    );
  }
  const size = p.largestDf;
  const mtuText =
    size === undefined
      ? ''
      : size === p.probedUpTo
        ? `, DF packets up to ${size} B pass`
        : `, largest DF packet ${size} B`;
  const cached = f.kernel.pmtu.find((x) => x.dst === p.target);
  if (size !== undefined && podMtu > 0 && size < podMtu && cached)
    return fail(
      'peer',
      id,
      title,
      `echo ok${rtt(p.overlay.rttMs)}, but DF packets above ${size} B fail: the kernel caches a path MTU of ${cached.mtu} for ${target} (from an ICMP "fragmentation needed"), below FLANNEL_MTU ${podMtu}`,
      `if the smaller MTU on the path to ${pub} is fixed: ip route flush cache; if not, raise it (ip link show on both nodes) or lower Backend.MTU everywhere and restart overlayd`,
    );
  if (size !== undefined && podMtu > 0 && size < podMtu)
    return fail(
      'peer',
      id,
      title,
      `echo ok${rtt(p.overlay.rttMs)}, but the largest packet that passes with DF is ${size} B and pods use FLANNEL_MTU ${podMtu}: full-size packets to this node are lost`,
      `find the smaller MTU on the path to ${pub} (ping -M do -s ${podMtu - 28 + (ctx.underlay && ctx.expectedMtu !== undefined ? ctx.underlay.mtu - ctx.expectedMtu : 0)} ${pub}; ip link show on both nodes) and raise it, or lower the MTU for every node (Backend.MTU) and restart overlayd`,
    );
  return ok('peer', id, title, `echo reply from ${target}${rtt(p.overlay.rttMs)}${mtuText}`);
}

const rtt = (ms: number | undefined): string => (ms === undefined ? '' : ` in ${ms.toFixed(3)} ms`);
