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
import { addPod, inPod, ping, reachable, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { expectedHostGw6, expectedVxlan6, ipJson, kernelRoutes6, kernelVxlan6 } from './lab/kernel-state6.js';

const IPV6_NETWORK = 'fd00:10:244::/56';

/** The v6 state each variant programs, next to what flanneld would program. */
async function v6State(variant: string, lab: Lab, node: LabNode) {
  return variant === 'host-gw'
    ? { have: await kernelRoutes6(node), want: await expectedHostGw6(lab, node) }
    : { have: await kernelVxlan6(node), want: await expectedVxlan6(lab, node) };
}

async function pingMatrix(pods: Pod[], family: 4 | 6): Promise<void> {
  for (const a of pods) {
    for (const b of pods) {
      if (a === b) continue;
      const to = family === 4 ? b.ip : b.ip6!;
      // The claim is reachability: the first probe on a fresh pair may wait out ARP/ND.
      await reachable(a, { ip: to });
      expect((await ping(a, { ip: to }, 2)).loss, `${a.ns} -> ${to}`).toBe(0);
    }
  }
}

for (const variant of ['vxlan', 'host-gw'] as const) {
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

    it('programs the v6 state flanneld programs for the same leases', async () => {
      for (const node of lab.nodes) {
        const { have, want } = await v6State(variant, lab, node);
        expect(JSON.stringify(want).match(/fd00:10:244:/g)?.length).toBeGreaterThanOrEqual(2);
        expect(have).toEqual(want);
      }
    });

    if (variant === 'vxlan') {
      it('sizes flannel-v6.1 for an IPv6 underlay (70 bytes) and writes the smaller MTU to subnet.env', async () => {
        const n = lab.nodes[0]!;
        const mtu = async (dev: string) => Number((await ipJson(n, ['link', 'show', dev]))[0]!['mtu']);
        const base = await mtu('eth0');
        expect(await mtu('flannel.1')).toBe(base - 50);
        expect(await mtu('flannel-v6.1')).toBe(base - 70);
        expect((await n.subnetEnv())['FLANNEL_MTU']).toBe(String(base - 70));
        const addrs = (await ipJson(n, ['-6', 'addr', 'show', 'dev', 'flannel-v6.1']))[0]![
          'addr_info'
        ] as Array<Record<string, unknown>>;
        const own = (await n.subnetEnv())['FLANNEL_IPV6_SUBNET']!.replace('::1/64', '::');
        expect(
          addrs.filter((a) => a['scope'] === 'global').map((a) => `${a['local']}/${a['prefixlen']}`),
        ).toEqual([`${own}/128`]);
        // A full-size pod packet over IPv6 crosses whole: ping -M do forbids fragmenting it.
        const size = base - 70 - 40 - 8;
        const r = await inPod(pods[0]!, 'ping', [
          '-6',
          '-c',
          '2',
          '-i',
          '0.2',
          '-W',
          '1',
          '-M',
          'do',
          '-s',
          String(size),
          pods[1]!.ip6!,
        ]);
        expect(r.stdout, r.stderr).toMatch(/2 received/);
      });

      it('re-creates flannel-v6.1 with the same MAC when deleted, and re-programs its peers', async () => {
        const n = lab.nodes[1]!;
        const before = await kernelVxlan6(n);
        const mac = (await ipJson(n, ['link', 'show', 'flannel-v6.1']))[0]!['address'];
        await n.mustExec('ip', ['link', 'del', 'flannel-v6.1']);
        await expect
          .poll(async () => await kernelVxlan6(n).catch(() => undefined), { timeout: 20_000 })
          .toEqual(before);
        expect((await ipJson(n, ['link', 'show', 'flannel-v6.1']))[0]!['address']).toBe(mac);
        await reachable(pods[1]!, { ip: pods[0]!.ip6! });
        expect((await ping(pods[1]!, { ip: pods[0]!.ip6! }, 2)).loss).toBe(0);
      });
    }

    it('routes a single-stack lease written by hand over IPv4 only, beside the dual-stack peers', async () => {
      const c = lab.client();
      const key = `${lab.prefix}/subnets/10.244.250.0-24`;
      try {
        const value =
          variant === 'host-gw'
            ? `{"PublicIP":"${lab.underlayIp(9)}","PublicIPv6":null,"BackendType":"host-gw"}`
            : `{"PublicIP":"${lab.underlayIp(9)}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}`;
        await c.put(key).value(value).exec();
        const n = lab.nodes[0]!;
        await expect
          .poll(
            async () => (await ipJson(n, ['route', 'show', '10.244.250.0/24'])).map((r) => r['gateway']),
            {
              timeout: 20_000,
            },
          )
          .toEqual([variant === 'host-gw' ? lab.underlayIp(9) : '10.244.250.0']);
        const { have, want } = await v6State(variant, lab, n);
        expect(have).toEqual(want);
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
      const hasRoute = async (): Promise<boolean> =>
        JSON.stringify((await v6State(variant, lab, n)).have).includes(`"${v6dst}"`);
      await expect.poll(hasRoute, { timeout: 20_000 }).toBe(false);
      // Back with its previous subnet.env: the same pair of subnets, routes everywhere again.
      await gone.startDaemon();
      const again = await gone.subnetEnv();
      expect([again['FLANNEL_SUBNET'], again['FLANNEL_IPV6_SUBNET']]).toEqual([
        env['FLANNEL_SUBNET'],
        env['FLANNEL_IPV6_SUBNET'],
      ]);
      await expect.poll(hasRoute, { timeout: 20_000 }).toBe(true);
      await reachable(pods[0]!, { ip: pods[2]!.ip6! });
      expect((await ping(pods[0]!, { ip: pods[2]!.ip6! }, 2)).loss).toBe(0);
    });
  });
}
