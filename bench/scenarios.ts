/**
 * The bench's setups: two pods on two nodes joined by each overlayd backend, plus baselines built
 * by hand — pods over a kernel vxlan configured flannel-style (what the daemon must not slow
 * down), pods over a per-packet forwarder in C (flannel udp's I/O model) and in JS (what a
 * userspace datapath starts from: forwarders.ts), and two namespaces on a bare veth (no overlay).
 */
import { Lab } from '../test/lab/lab.js';
import { addPod } from '../test/lab/pods.js';
import { forwarderPair } from './forwarders.js';
import { handVxlan6, overlayd6 } from './scenarios6.js';
import type { Endpoint } from './measure.js';
import { must } from '../test/lab/shell.js';
import { overlaydWireguardPair, wireguardGoPair } from './scenarios-wireguard.js';

export const BACKENDS = [
  'udp',
  'udp-copy',
  'udp-percpu',
  'udp-split',
  'udp-batch',
  'udp-plain',
  'wireguard-go',
  'wireguard',
  'vxlan',
  'vxlan-userspace',
  'vxlan-mixed',
  'host-gw',
  'kernel-vxlan',
  'vxlan6',
  'host-gw6',
  'kernel-vxlan6',
  'c-forwarder',
  'js-forwarder',
  'veth',
] as const;
export type BenchBackend = (typeof BACKENDS)[number];

export const DESCRIPTIONS: Record<BenchBackend, string> = {
  udp: 'overlayd udp: TUN offloads (TSO split, GRO merge), UDP GSO/GRO, batching',
  'udp-copy': 'overlayd udp with --udp-sg=off: GSO segments and GRO merges copied, not scatter-gather',
  'udp-percpu': 'overlayd udp with --udp-queues=auto: a queue and pinned worker per CPU',
  'udp-split': 'overlayd udp with --udp-workers=2: a tx and an rx thread per queue',
  'udp-batch': 'overlayd udp with --udp-offloads=off: recvmmsg/sendmmsg batches only',
  'udp-plain': 'overlayd udp with offloads and batching off: one syscall per packet (flannel udp I/O model)',
  'wireguard-go': "reference: Debian's wireguard-go, configured with wg as flanneld configures a kernel peer",
  wireguard:
    'overlayd wireguard: userspace WireGuard on the udp engine (batched AEAD, TUN offloads, UDP GSO)',
  vxlan: 'overlayd vxlan: kernel VXLAN programmed by overlayd',
  'vxlan-userspace': 'overlayd vxlan with --vxlan-datapath=userspace on both nodes: VXLAN on the udp engine',
  'vxlan-mixed': 'overlayd vxlan: one node userspace, the other on the kernel device',
  'host-gw': 'overlayd host-gw: kernel routes programmed by overlayd',
  'kernel-vxlan': 'baseline: kernel VXLAN configured by hand, flannel-style',
  vxlan6: 'overlayd vxlan, dual-stack: IPv6 pods over flannel-v6.1 on an IPv6 underlay (kernel datapath)',
  'host-gw6': 'overlayd host-gw, dual-stack: IPv6 pods over IPv6 routes via the peer PublicIPv6',
  'kernel-vxlan6': 'baseline: kernel VXLAN over an IPv6 underlay configured by hand, flannel-style',
  'c-forwarder': 'baseline: a C forwarder, one read/sendto per packet (flannel udp I/O model)',
  'js-forwarder': "baseline: the C forwarder's loop in JS through overlayd's native calls (no checks)",
  veth: 'baseline: two namespaces on one veth, no overlay',
};

export interface Setup {
  readonly a: Endpoint;
  readonly b: Endpoint;
  /** overlayd processes to account CPU and RSS to (none for baselines). */
  readonly pids: number[];
  teardown(): Promise<void>;
}

/** `env`: extra environment for the overlayd processes (A/B switches that are not flags). */
export async function setUp(backend: BenchBackend, env: Record<string, string> = {}): Promise<Setup> {
  switch (backend) {
    case 'wireguard-go':
      return wireguardGoPair();
    case 'wireguard':
      return overlaydWireguardPair(env);
    case 'veth':
      return vethPair();
    case 'kernel-vxlan':
      return handVxlan();
    case 'vxlan6':
    case 'host-gw6':
      return overlayd6(backend);
    case 'kernel-vxlan6':
      return handVxlan6();
    case 'c-forwarder':
      return forwarderPair('c');
    case 'js-forwarder':
      return forwarderPair('js');
    default:
      return overlayd(backend, env);
  }
}

async function overlayd(
  backend: Exclude<
    BenchBackend,
    'veth' | 'kernel-vxlan' | 'c-forwarder' | 'js-forwarder' | 'vxlan6' | 'host-gw6' | 'kernel-vxlan6'
  >,
  env: Record<string, string>,
): Promise<Setup> {
  const type = backend.startsWith('udp') ? 'udp' : backend.startsWith('vxlan') ? 'vxlan' : backend;
  // Per node: the mixed setup runs node 1 in userspace, node 2 on the kernel device.
  const datapath = (i: number): string[] =>
    backend === 'vxlan-userspace' || (backend === 'vxlan-mixed' && i === 0)
      ? ['--vxlan-datapath=userspace']
      : backend.startsWith('vxlan')
        ? ['--vxlan-datapath=kernel']
        : [];
  const flags =
    backend === 'udp-copy'
      ? ['--udp-sg=off']
      : backend === 'udp-split'
        ? ['--udp-workers=2']
        : backend === 'udp-percpu'
          ? ['--udp-queues=auto']
          : backend === 'udp-batch'
            ? ['--udp-offloads=off']
            : backend === 'udp-plain'
              ? ['--udp-offloads=off', '--udp-batch=off']
              : [];
  const lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: type } },
  });
  try {
    await Promise.all(
      lab.nodes.map((n, i) => n.startDaemon({ flags: [...flags, ...datapath(i), '--log-level=warn'], env })),
    );
    if (backend === 'vxlan-mixed')
      // As in test/vxlan-userspace.e2e.ts: the kernel node's GSO skbs cross a veth whole; the
      // switch port toward the userspace node segments them, as the wire between two hosts does.
      await must(
        'ip',
        ['netns', 'exec', lab.switchNs, 'ethtool', '-K', 'n1', 'tx-udp_tnl-segmentation', 'off'].concat([
          'tx-udp_tnl-csum-segmentation',
          'off',
        ]),
      );
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return { a: a!, b: b!, pids: lab.nodes.map((n) => n.pid!), teardown: () => lab.destroy() };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

/** flanneld's vxlan state, typed in by hand with ip/bridge, with pods attached by the CNI plugin. */
async function handVxlan(): Promise<Setup> {
  const lab = await Lab.create({ nodes: 2 });
  try {
    const macs = ['02:00:00:00:01:01', '02:00:00:00:02:02'];
    for (const [i, n] of lab.nodes.entries()) {
      await n.writeSubnetEnv(`10.244.${i + 1}.1/24`, 1450);
      const x = (args: string[]) => must('ip', ['-n', n.ns, ...args]);
      await x([
        'link',
        'add',
        'flannel.1',
        'type',
        'vxlan',
        'id',
        '1',
        'local',
        n.ip,
        'dev',
        'eth0',
        'dstport',
        '8472',
        'nolearning',
        'noudpcsum',
      ]);
      await x(['link', 'set', 'flannel.1', 'address', macs[i]!, 'mtu', '1450', 'up']);
      await x(['addr', 'add', `10.244.${i + 1}.0/32`, 'dev', 'flannel.1']);
      const j = 1 - i;
      const peer = lab.nodes[j]!;
      await x([
        'neigh',
        'replace',
        `10.244.${j + 1}.0`,
        'lladdr',
        macs[j]!,
        'dev',
        'flannel.1',
        'nud',
        'permanent',
      ]);
      await must('ip', [
        'netns',
        'exec',
        n.ns,
        'bridge',
        'fdb',
        'append',
        macs[j]!,
        'dev',
        'flannel.1',
        'dst',
        peer.ip,
        'self',
        'permanent',
      ]);
      await x([
        'route',
        'replace',
        `10.244.${j + 1}.0/24`,
        'via',
        `10.244.${j + 1}.0`,
        'dev',
        'flannel.1',
        'onlink',
      ]);
    }
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return { a: a!, b: b!, pids: [], teardown: () => lab.destroy() };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

async function vethPair(): Promise<Setup> {
  const lab = await Lab.create({ nodes: 0 });
  const ends = [
    { ns: `${lab.id}-va`, ip: '10.99.0.1' },
    { ns: `${lab.id}-vb`, ip: '10.99.0.2' },
  ];
  try {
    for (const e of ends) {
      await must('ip', ['netns', 'add', e.ns]);
      await must('ip', ['-n', e.ns, 'link', 'set', 'lo', 'up']);
    }
    await must('ip', [
      '-n',
      ends[0]!.ns,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      ends[1]!.ns,
    ]);
    for (const e of ends) {
      await must('ip', ['-n', e.ns, 'addr', 'add', `${e.ip}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', e.ns, 'link', 'set', 'eth0', 'up']);
    }
    return { a: ends[0]!, b: ends[1]!, pids: [], teardown: () => lab.destroy() };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}
