/**
 * A dual-stack flanneld vxlan node built by hand, for the suites that check overlayd against
 * flanneld's kernel state without running flanneld: flannel.1 and flannel-v6.1 created as flanneld
 * creates them, its lease written in flanneld's format under flanneld's dual-stack key, its
 * subnet.env as flanneld writes it, and per peer the neighbour, FDB and route entries flanneld
 * programs (`programPeer`), in flanneld's order.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Lab } from './lab.js';
import type { LabNode } from './lab-node.js';

export interface HandNode6 {
  readonly node: LabNode;
  readonly subnet: string;
  readonly subnet6: string;
  readonly mac: string;
  readonly mac6: string;
}

interface PeerLease {
  PublicIP: string;
  PublicIPv6?: string | null;
  BackendData?: { VtepMAC: string };
  BackendV6Data?: { VtepMAC: string };
}

/** Builds `node` as flanneld would run it with subnets `subnet` (…0/24) and `subnet6` (…::/64). */
export async function buildHandNode6(
  lab: Lab,
  node: LabNode,
  opts: {
    subnet: string;
    subnet6: string;
    ipv6Network: string;
    mac: string;
    mac6: string;
    /**
     * flanneld's device MTUs and FLANNEL_MTU: base − 50 for both families (flannel issue #1781),
     * given as `base`; absent, the v6 device is 1430 as the suites that predate this option built it.
     */
    base?: number;
  },
): Promise<HandNode6> {
  const { subnet, subnet6, mac, mac6 } = opts;
  const mtu4 = (opts.base ?? 1500) - 50;
  const mtu6 = opts.base !== undefined ? opts.base - 50 : 1430;
  const vx = async (name: string, local: string, addr: string, m: string, mtu: number) => {
    await node.mustExec(
      'ip',
      ['link', 'add', name, 'type', 'vxlan', 'id', '1', 'local', local, 'dev', 'eth0'].concat([
        'dstport',
        '8472',
        'nolearning',
      ]),
    );
    await node.mustExec('ip', ['link', 'set', name, 'address', m, 'mtu', String(mtu), 'up']);
    await node.mustExec('ip', ['addr', 'add', addr, 'dev', name, ...(addr.includes(':') ? ['nodad'] : [])]);
  };
  await vx('flannel.1', node.ip, subnet.replace('/24', '/32'), mac, mtu4);
  await vx('flannel-v6.1', node.ip6, subnet6.replace('/64', '/128'), mac6, mtu6);
  await node.mustExec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  const value = JSON.stringify({
    PublicIP: node.ip,
    PublicIPv6: node.ip6,
    BackendType: 'vxlan',
    BackendData: { VNI: 1, VtepMAC: mac },
    BackendV6Data: { VNI: 1, VtepMAC: mac6 },
  });
  const c = lab.client();
  try {
    const key = `${subnet.replace('/', '-')}&${subnet6.replace('/', '-')}`;
    await c.put(`${lab.prefix}/subnets/${key}`).value(value).exec();
  } finally {
    c.close();
  }
  await mkdir(dirname(node.subnetFile), { recursive: true });
  await writeFile(
    node.subnetFile,
    `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${subnet.replace('.0/', '.1/')}\nFLANNEL_MTU=${Math.min(mtu4, mtu6)}\nFLANNEL_IPMASQ=false\n` +
      `FLANNEL_IPV6_NETWORK=${opts.ipv6Network}\nFLANNEL_IPV6_SUBNET=${subnet6.replace('::/', '::1/')}\n`,
  );
  return { node, subnet, subnet6, mac, mac6 };
}

/** What flanneld programs on `hand` for one dual-stack vxlan peer: neighbour, FDB, route per family. */
export async function programPeer(
  hand: HandNode6,
  subnet: string,
  subnet6: string,
  lease: PeerLease,
): Promise<void> {
  const n = hand.node;
  const entries = [
    {
      dev: 'flannel.1',
      net: subnet.split('/')[0]!,
      dst: subnet,
      mac: lease.BackendData!.VtepMAC,
      pub: lease.PublicIP,
      six: [] as string[],
    },
    {
      dev: 'flannel-v6.1',
      net: subnet6.split('/')[0]!,
      dst: subnet6,
      mac: lease.BackendV6Data!.VtepMAC,
      pub: lease.PublicIPv6!,
      six: ['-6'],
    },
  ];
  for (const e of entries) {
    await n.mustExec('ip', [
      ...e.six,
      'neigh',
      'replace',
      e.net,
      'lladdr',
      e.mac,
      'dev',
      e.dev,
      'nud',
      'permanent',
    ]);
    await n.mustExec('bridge', ['fdb', 'replace', e.mac, 'dev', e.dev, 'dst', e.pub, 'self', 'permanent']);
    await n.mustExec('ip', [...e.six, 'route', 'replace', e.dst, 'via', e.net, 'dev', e.dev, 'onlink']);
  }
}
