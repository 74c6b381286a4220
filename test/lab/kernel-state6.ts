/**
 * A lab node's IPv6 kernel state as flanneld's dual-stack backends leave it, read with iproute2's
 * JSON output, and the state flanneld would program for the leases in etcd: the yardstick of the
 * dual-stack crash tests. Everything is returned sorted, duplicates kept, so a test can tell
 * "the right entries" from "the right entries, some twice".
 */
import type { Lab } from './lab.js';
import type { LabNode } from './lab-node.js';

export const VXLAN6_DEVICE = 'flannel-v6.1';

interface LeaseValue {
  PublicIP: string;
  PublicIPv6?: string | null;
  BackendV6Data?: { VNI: number; VtepMAC: string };
}

/** The leases in etcd by key suffix (`10.244.3.0-24&fd00:10:244:3::-64`). */
export async function leases(lab: Lab): Promise<Map<string, LeaseValue>> {
  const c = lab.client();
  try {
    const res = await c.getAll().prefix(`${lab.prefix}/subnets/`).exec();
    return new Map(
      res.kvs.map((kv) => [kv.key.toString().split('/').pop()!, JSON.parse(kv.value.toString())]),
    );
  } finally {
    c.close();
  }
}

export const ipJson = async (node: LabNode, args: string[]): Promise<Array<Record<string, unknown>>> =>
  JSON.parse((await node.mustExec('ip', ['-j', ...args])) || '[]');

/** The node's own v6 subnet from its subnet.env, as `fd00:10:244:N::/64`. */
async function ownV6Subnet(node: LabNode): Promise<string> {
  return (await node.subnetEnv())['FLANNEL_IPV6_SUBNET']!.replace('::1/', '::/');
}

interface V6Peer {
  readonly dst: string;
  readonly net: string;
  readonly pub: string;
  readonly mac?: string;
}

async function v6Peers(lab: Lab, node: LabNode): Promise<V6Peer[]> {
  const own = await ownV6Subnet(node);
  const out: V6Peer[] = [];
  for (const [key, v] of await leases(lab)) {
    const v6 = key.split('&')[1];
    if (!v6 || !v.PublicIPv6) continue;
    const dst = v6.replace(/-(\d+)$/, '/$1');
    if (dst === own) continue;
    const peer = { dst, net: dst.split('/')[0]!, pub: v.PublicIPv6 };
    out.push(v.BackendV6Data ? { ...peer, mac: v.BackendV6Data.VtepMAC } : peer);
  }
  return out.sort((a, b) => a.dst.localeCompare(b.dst));
}

export interface Vxlan6State {
  readonly routes: Array<{ dst: string; gateway: unknown; flags: unknown }>;
  readonly neighs: Array<{ dst: string; lladdr: unknown }>;
  readonly fdb: Array<{ mac: string; dst: unknown; state: unknown }>;
}

/** What flanneld's dual-stack vxlan programs on flannel-v6.1 for the other nodes' leases. */
export async function expectedVxlan6(lab: Lab, node: LabNode): Promise<Vxlan6State> {
  const peers = (await v6Peers(lab, node)).filter((p) => p.mac);
  return {
    routes: peers.map((p) => ({ dst: p.dst, gateway: p.net, flags: ['onlink'] })),
    neighs: peers.map((p) => ({ dst: p.net, lladdr: p.mac })),
    fdb: peers
      .map((p) => ({ mac: p.mac!, dst: p.pub, state: 'permanent' }))
      .sort((a, b) => a.mac.localeCompare(b.mac)),
  };
}

/** The permanent v6 routes (with a gateway), neighbours and FDB entries on flannel-v6.1. */
export async function kernelVxlan6(node: LabNode): Promise<Vxlan6State> {
  const routes = (await ipJson(node, ['-6', 'route', 'show', 'dev', VXLAN6_DEVICE])).filter(
    (r) => r['gateway'],
  );
  const neighs = (await ipJson(node, ['-6', 'neigh', 'show', 'dev', VXLAN6_DEVICE])).filter((n) =>
    (n['state'] as string[] | undefined)?.includes('PERMANENT'),
  );
  const fdb = JSON.parse(
    (await node.mustExec('bridge', ['-j', 'fdb', 'show', 'dev', VXLAN6_DEVICE])) || '[]',
  ) as Array<Record<string, unknown>>;
  return {
    routes: routes
      .map((r) => ({ dst: String(r['dst']), gateway: r['gateway'], flags: r['flags'] }))
      .sort((a, b) => a.dst.localeCompare(b.dst)),
    neighs: neighs
      .map((n) => ({ dst: String(n['dst']), lladdr: n['lladdr'] }))
      .sort((a, b) => a.dst.localeCompare(b.dst)),
    fdb: fdb
      .filter((f) => f['mac'] !== '00:00:00:00:00:00' && f['dst'])
      .map((f) => ({ mac: String(f['mac']), dst: f['dst'], state: f['state'] }))
      .sort((a, b) => a.mac.localeCompare(b.mac)),
  };
}

export interface HostGw6Route {
  readonly dst: string;
  readonly gateway: string;
  readonly dev: string;
}

/** What flanneld's dual-stack host-gw programs: <peer v6 subnet> via <PublicIPv6> dev eth0. */
export async function expectedHostGw6(lab: Lab, node: LabNode): Promise<HostGw6Route[]> {
  return (await v6Peers(lab, node)).map((p) => ({ dst: p.dst, gateway: p.pub, dev: 'eth0' }));
}

/** overlayd's v6 routes (route protocol 77), duplicates kept. */
export async function kernelRoutes6(node: LabNode): Promise<HostGw6Route[]> {
  return (await ipJson(node, ['-6', 'route', 'show', 'proto', '77']))
    .map((r) => ({ dst: String(r['dst']), gateway: String(r['gateway']), dev: String(r['dev']) }))
    .sort((a, b) => a.dst.localeCompare(b.dst));
}

/** The global v6 addresses on a device as `addr/len`. */
export async function globalAddrs6(node: LabNode, dev: string): Promise<string[]> {
  const [link] = await ipJson(node, ['-6', 'addr', 'show', 'dev', dev]);
  const info = (link?.['addr_info'] ?? []) as Array<Record<string, unknown>>;
  return info.filter((a) => a['scope'] === 'global').map((a) => `${a['local']}/${a['prefixlen']}`);
}
