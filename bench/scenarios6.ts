/**
 * The bench's IPv6 setups (dual-stack, issue #16): IPv6 pods on two nodes over the lab's ULA
 * underlay (fd00:198:18:K::/64), joined by overlayd's vxlan on the kernel device (flannel-v6.1)
 * or host-gw, and the reference they are held to: the same flannel-v6.1 state typed in by hand
 * with ip/bridge, exactly what flanneld programs for a v6 peer. Pods come from the same CNI
 * delegate config in every setup, so the only difference is who wrote the kernel state.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Lab } from '../test/lab/lab.js';
import type { LabNode } from '../test/lab/lab-node.js';
import { addPod, type Pod } from '../test/lab/pods.js';
import { must } from '../test/lab/shell.js';
import type { Setup } from './scenarios.js';

/** The pod network of every IPv6 setup: ULA only, never routed outside the lab's namespaces. */
const IPV6_NETWORK = 'fd00:10:244::/56';
/** VXLAN over IPv6 costs 70 bytes: outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
const VXLAN6_MTU = 1500 - 70;

/** A pod as a bench endpoint reached over IPv6. */
function v6Endpoint(p: Pod): { ns: string; ip: string } {
  if (!p.ip6) throw new Error(`pod ${p.ns} has no IPv6 address: its subnet.env is not dual-stack`);
  return { ns: p.ns, ip: p.ip6 };
}

/** overlayd with a dual-stack network config; traffic between the pods' IPv6 addresses. */
export async function overlayd6(backend: 'vxlan6' | 'host-gw6'): Promise<Setup> {
  const type = backend === 'vxlan6' ? 'vxlan' : 'host-gw';
  const lab = await Lab.create({
    nodes: 2,
    networkConfig: {
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: IPV6_NETWORK,
      Backend: { Type: type },
    },
  });
  try {
    const flags = type === 'vxlan' ? ['--vxlan-datapath=kernel', '--log-level=warn'] : ['--log-level=warn'];
    await Promise.all(lab.nodes.map((n) => n.startDaemon({ flags })));
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return {
      a: v6Endpoint(a!),
      b: v6Endpoint(b!),
      pids: lab.nodes.map((n) => n.pid!),
      teardown: () => lab.destroy(),
    };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

/** The dual-stack subnet.env flanneld writes for node `i` (the CNI plugin reads it to attach pods). */
async function writeDualStackEnv(n: LabNode, i: number): Promise<void> {
  await mkdir(dirname(n.subnetFile), { recursive: true });
  await writeFile(
    n.subnetFile,
    [
      'FLANNEL_NETWORK=10.244.0.0/16',
      `FLANNEL_SUBNET=10.244.${i + 1}.1/24`,
      `FLANNEL_IPV6_NETWORK=${IPV6_NETWORK}`,
      `FLANNEL_IPV6_SUBNET=fd00:10:244:${i + 1}::1/64`,
      `FLANNEL_MTU=${VXLAN6_MTU}`,
      'FLANNEL_IPMASQ=false',
      '',
    ].join('\n'),
  );
}

/**
 * flanneld's v6 vxlan state for a peer, by hand: the device flannel-v6.1 (local = our IPv6
 * underlay address, nolearning, the kernel's default UDP checksums over IPv6), our v6 subnet
 * address as a /128 on it, and toward the peer a permanent neighbour (its subnet address → its
 * VTEP MAC), an FDB entry (that MAC → its IPv6 underlay address) and an onlink route.
 */
export async function handVxlan6(): Promise<Setup> {
  const lab = await Lab.create({ nodes: 2 });
  try {
    const macs = ['02:00:00:00:06:01', '02:00:00:00:06:02'];
    const dev = 'flannel-v6.1';
    for (const [i, n] of lab.nodes.entries()) {
      await writeDualStackEnv(n, i);
      const x = (args: string[]) => must('ip', ['-n', n.ns, ...args]);
      await x(
        ['link', 'add', dev, 'type', 'vxlan', 'id', '1', 'local', n.ip6, 'dev', 'eth0'].concat([
          'dstport',
          '8472',
          'nolearning',
        ]),
      );
      await must('ip', ['netns', 'exec', n.ns, 'sysctl', '-qw', `net/ipv6/conf/${dev}/accept_ra=0`]);
      await x(['link', 'set', dev, 'address', macs[i]!, 'mtu', String(VXLAN6_MTU), 'up']);
      await x(['-6', 'addr', 'add', `fd00:10:244:${i + 1}::/128`, 'dev', dev, 'nodad']);
      const j = 1 - i;
      const peer = lab.nodes[j]!;
      const peerNet = `fd00:10:244:${j + 1}::`;
      await x(['-6', 'neigh', 'replace', peerNet, 'lladdr', macs[j]!, 'dev', dev, 'nud', 'permanent']);
      await must(
        'ip',
        ['netns', 'exec', n.ns, 'bridge', 'fdb', 'append', macs[j]!, 'dev', dev].concat([
          'dst',
          peer.ip6,
          'self',
          'permanent',
        ]),
      );
      await x(['-6', 'route', 'replace', `${peerNet}/64`, 'via', peerNet, 'dev', dev, 'onlink']);
    }
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return { a: v6Endpoint(a!), b: v6Endpoint(b!), pids: [], teardown: () => lab.destroy() };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}
