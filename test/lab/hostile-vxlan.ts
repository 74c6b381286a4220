/**
 * What the userspace VXLAN e2e files share for either family (vxlan-userspace.e2e.ts: flannel.1,
 * vxlan-userspace6.e2e.ts: flannel-v6.1): the switch port that segments tunnel GSO toward the
 * userspace node, the VXLAN frame a hostile test crafts, and the flood of hostile datagrams sent
 * during a transfer, each kind counted under its own drop reason.
 */
import { expect } from 'vitest';
import type { Lab } from './lab.js';
import type { LabNode } from './lab-node.js';
import { must } from './shell.js';

/**
 * A veth hands a kernel vxlan sender's GSO skb on whole, which a plain UDP socket receives as one
 * 64 KiB "datagram" (counted as oversized): on a wire, or a link without tunnel segmentation, it
 * arrives as datagrams. The switch port toward `node` is made such a link, so the kernel segments
 * there as a NIC would before the wire (tx-udp_tnl-* covers v4 and v6 tunnels alike).
 */
export async function segmentTunnelsToward(lab: Lab, node: LabNode): Promise<void> {
  await must(
    'ip',
    ['netns', 'exec', lab.switchNs, 'ethtool', '-K', `n${node.index}`].concat([
      'tx-udp_tnl-segmentation',
      'off',
      'tx-udp_tnl-csum-segmentation',
      'off',
    ]),
  );
}

/** A VXLAN datagram's payload: header (I flag, `vni`), Ethernet dst/src/EtherType, the inner packet. */
export function vxlanFrame(
  vni: number,
  dstMac: Buffer,
  srcMac: string,
  etherType: number,
  inner: Uint8Array,
): Buffer {
  return Buffer.concat([
    Buffer.from([0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 255, vni & 255, 0]),
    dstMac,
    Buffer.from(srcMac.replaceAll(':', ''), 'hex'),
    Buffer.from([etherType >> 8, etherType & 255]),
    Buffer.from(inner),
  ]);
}

export interface HostileFlood {
  readonly family: 4 | 6;
  /** The node that sends: a known peer of `target` (its PublicIP or PublicIPv6 is `known`). */
  readonly from: LabNode;
  readonly known: string;
  /** A second address of `from`, which `target` has no lease for (the caller added it). */
  readonly stranger: string;
  readonly target: LabNode;
  /** `target`'s underlay address of this family. */
  readonly targetIp: string;
  /** Frames by the drop reason each must be counted under. */
  readonly kinds: Readonly<Record<string, Buffer>>;
  /** The frame (a key of kinds) the stranger sends too: counted as unknown_sender. */
  readonly strangerSends: string;
  /** The transfer that runs meanwhile and must arrive intact. */
  readonly transfer: () => Promise<{ sent: string; received: string }>;
}

/**
 * Sends every frame 5000 times from the known peer's address (another source port, as any VXLAN
 * sender) and one per round from the stranger while the transfer runs; then the transfer arrived
 * intact, each reason rose by 1..5000 (the kernel may drop some on a full socket buffer, never add
 * any) and the target still runs.
 */
export async function floodHostile(f: HostileFlood): Promise<void> {
  const af = f.family === 6 ? 'socket.AF_INET6' : 'socket.AF_INET';
  const names = Object.keys(f.kinds);
  const strangerIndex = names.indexOf(f.strangerSends);
  if (strangerIndex < 0)
    throw new Error(`floodHostile: strangerSends ${f.strangerSends} is not one of the kinds`);
  const script = `
import socket,sys
known=socket.socket(${af}, socket.SOCK_DGRAM); known.bind(('${f.known}', 0))
other=socket.socket(${af}, socket.SOCK_DGRAM); other.bind(('${f.stranger}', 0))
frames=[bytes.fromhex(h) for h in sys.argv[1:]]
for i in range(5000):
  for f in frames: known.sendto(f, ('${f.targetIp}', 8472))
  other.sendto(frames[${strangerIndex}], ('${f.targetIp}', 8472))
`;
  const metric = (r: string) => f.target.metric(`overlayd_udp_drops_total{direction="rx",reason="${r}"}`);
  const reasons = [...names, 'unknown_sender'];
  const before = await Promise.all(reasons.map(metric));
  const running = f.transfer();
  await f.from.mustExec('python3', ['-c', script, ...names.map((k) => f.kinds[k]!.toString('hex'))], {
    timeoutMs: 60_000,
  });
  const r = await running;
  expect(r.received).toBe(r.sent);
  const after = await Promise.all(reasons.map(metric));
  reasons.forEach((reason, i) => {
    const n = after[i]! - before[i]!;
    expect(n, reason).toBeGreaterThan(0);
    expect(n, reason).toBeLessThanOrEqual(5000);
  });
  expect(f.target.running).toBe(true);
}
