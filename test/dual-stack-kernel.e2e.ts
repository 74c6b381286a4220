/**
 * Dual-stack kernel backends end to end: three nodes with an IPv4 and a ULA IPv6 underlay, a real
 * etcd, pods with both families (CNI bridge + host-local with two ranges, as the flannel CNI plugin
 * delegates). Every pod reaches every other over IPv4 and IPv6 (ping and a checked TCP transfer),
 * the kernel's v6 state is what flanneld programs for the same leases, peers come and go, and a
 * single-stack lease written by hand sits beside the dual-stack nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, ping, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';

const IPV6_NETWORK = 'fd00:10:244::/56';

interface LeaseValue {
  PublicIP: string;
  PublicIPv6: string | null;
  BackendType?: string;
}

async function leases(lab: Lab): Promise<Map<string, LeaseValue>> {
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

const json = async (node: LabNode, args: string[]): Promise<Array<Record<string, unknown>>> =>
  JSON.parse((await node.mustExec('ip', ['-j', ...args])) || '[]');

/** The v6 routes flanneld's host-gw programs on `node`: <peer v6 subnet> via <PublicIPv6> dev eth0. */
async function expectedHostGw6(lab: Lab, node: LabNode) {
  const own = (await node.subnetEnv())['FLANNEL_IPV6_SUBNET']!.replace('::1/', '::/');
  const out: Array<{ dst: string; gateway: string; dev: string }> = [];
  for (const [key, v] of await leases(lab)) {
    const v6 = key.split('&')[1];
    if (!v6 || !v.PublicIPv6) continue;
    const dst = v6.replace(/-(\d+)$/, '/$1');
    if (dst !== own) out.push({ dst, gateway: v.PublicIPv6, dev: 'eth0' });
  }
  return out.sort((a, b) => a.dst.localeCompare(b.dst));
}

async function kernelRoutes6(node: LabNode) {
  return (await json(node, ['-6', 'route', 'show', 'proto', '77']))
    .map((r) => ({ dst: String(r['dst']), gateway: String(r['gateway']), dev: String(r['dev']) }))
    .sort((a, b) => a.dst.localeCompare(b.dst));
}

async function pingMatrix(pods: Pod[], family: 4 | 6): Promise<void> {
  for (const a of pods) {
    for (const b of pods) {
      if (a === b) continue;
      const to = family === 4 ? b.ip : b.ip6!;
      expect((await ping(a, { ip: to }, 2)).loss, `${a.ns} -> ${to}`).toBe(0);
    }
  }
}

for (const variant of ['host-gw'] as const) {
  describe(`dual-stack ${variant} on three nodes`, () => {
    let lab: Lab;
    let pods: Pod[] = [];

    beforeAll(async () => {
      lab = await Lab.create({
        nodes: 3,
        networkConfig: {
          Network: '10.244.0.0/16',
          EnableIPv6: true,
          IPv6Network: IPV6_NETWORK,
          Backend: { Type: variant },
        },
      });
      await Promise.all(lab.nodes.map((n) => n.startDaemon()));
      pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('gives every pod an IPv4 and an IPv6 address from its node subnets', async () => {
      for (const p of pods) {
        const env = await p.node.subnetEnv();
        expect(p.ip.startsWith(env['FLANNEL_SUBNET']!.replace(/\.1\/24$/, '.'))).toBe(true);
        expect(p.ip6?.startsWith(env['FLANNEL_IPV6_SUBNET']!.replace(/::1\/64$/, '::'))).toBe(true);
      }
    });

    it('connects every pod to every other pod over IPv4 and over IPv6', async () => {
      await pingMatrix(pods, 4);
      await pingMatrix(pods, 6);
    });

    it('carries TCP intact over both families', async () => {
      const [a, b] = [pods[0]!, pods[2]!];
      const v4 = await transfer(a, b, 2);
      expect(v4.received).toBe(v4.sent);
      const v6 = await transfer(a, { ...b, ip: b.ip6! }, 2);
      expect(v6.sent).toMatch(/^[0-9a-f]{64}$/);
      expect(v6.received).toBe(v6.sent);
    });

    it('programs the v6 routes flanneld programs for the same leases', async () => {
      for (const node of lab.nodes) {
        const want = await expectedHostGw6(lab, node);
        expect(want).toHaveLength(2);
        expect(await kernelRoutes6(node)).toEqual(want);
      }
    });

    it('routes a single-stack lease written by hand over IPv4 only, beside the dual-stack peers', async () => {
      const c = lab.client();
      const key = `${lab.prefix}/subnets/10.244.250.0-24`;
      try {
        await c
          .put(key)
          .value(`{"PublicIP":"${lab.underlayIp(9)}","PublicIPv6":null,"BackendType":"host-gw"}`)
          .exec();
        const n = lab.nodes[0]!;
        await expect
          .poll(async () => (await json(n, ['route', 'show', '10.244.250.0/24'])).map((r) => r['gateway']), {
            timeout: 5000,
          })
          .toEqual([lab.underlayIp(9)]);
        expect(await kernelRoutes6(n)).toEqual(await expectedHostGw6(lab, n));
        expect(await kernelRoutes6(n)).toHaveLength(2);
      } finally {
        await c.delete().key(key).exec();
        c.close();
      }
    });

    it("removes a departed peer's v6 route, and a restarted node comes back with both subnets", async () => {
      const gone = lab.nodes[2]!;
      const env = await gone.subnetEnv();
      await gone.stopDaemon('SIGTERM');
      const key = `${env['FLANNEL_SUBNET']!.replace('.1/24', '.0-24')}&${env['FLANNEL_IPV6_SUBNET']!.replace('::1/64', '::-64')}`;
      const c = lab.client();
      try {
        await c.delete().key(`${lab.prefix}/subnets/${key}`).exec();
      } finally {
        c.close();
      }
      const n = lab.nodes[0]!;
      const v6dst = env['FLANNEL_IPV6_SUBNET']!.replace('::1/', '::/');
      await expect
        .poll(async () => (await kernelRoutes6(n)).some((r) => r.dst === v6dst), { timeout: 5000 })
        .toBe(false);
      // Back with its previous subnet.env: the same pair of subnets, routes everywhere again.
      await gone.startDaemon();
      const again = await gone.subnetEnv();
      expect([again['FLANNEL_SUBNET'], again['FLANNEL_IPV6_SUBNET']]).toEqual([
        env['FLANNEL_SUBNET'],
        env['FLANNEL_IPV6_SUBNET'],
      ]);
      await expect
        .poll(async () => (await kernelRoutes6(n)).some((r) => r.dst === v6dst), { timeout: 5000 })
        .toBe(true);
      expect((await ping(pods[0]!, { ip: pods[2]!.ip6! }, 2)).loss).toBe(0);
    });
  });
}
