/**
 * vxlan, vxlan + DirectRouting and host-gw end to end: pods on three nodes, kernel state compared
 * field by field with what flanneld programs for the same leases, peer departure, crash recovery
 * and a mixed cluster with a lease written in flanneld's format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';

interface Expected {
  subnet: string; // 10.244.3.0/24
  net: string; // 10.244.3.0
  publicIp: string;
  mac?: string;
}

async function leases(
  lab: Lab,
): Promise<Map<string, { PublicIP: string; BackendType?: string; BackendData?: { VtepMAC: string } }>> {
  const c = lab.client();
  try {
    const res = await c.getAll().prefix(`${lab.prefix}/subnets/`).exec();
    return new Map(
      res.kvs.map((kv) => [
        kv.key.toString().split('/').pop()!.replace('-', '/'),
        JSON.parse(kv.value.toString()),
      ]),
    );
  } finally {
    c.close();
  }
}

/** What flanneld would program on `node` for the current leases (excluding its own). */
async function expectedPeers(lab: Lab, node: LabNode): Promise<Expected[]> {
  const own = (await node.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/');
  const out: Expected[] = [];
  for (const [subnet, v] of await leases(lab)) {
    if (subnet === own) continue;
    const e: Expected = { subnet, net: subnet.split('/')[0]!, publicIp: v.PublicIP };
    if (v.BackendData?.VtepMAC) e.mac = v.BackendData.VtepMAC;
    out.push(e);
  }
  return out.sort((a, b) => a.subnet.localeCompare(b.subnet));
}

const json = async (node: LabNode, cmd: string, args: string[]): Promise<Array<Record<string, unknown>>> =>
  JSON.parse((await node.mustExec(cmd, ['-j', ...args])) || '[]');

async function kernelVxlan(node: LabNode) {
  const routes = (await json(node, 'ip', ['route', 'show', 'dev', 'flannel.1'])).filter((r) => r['gateway']);
  const neighs = (await json(node, 'ip', ['neigh', 'show', 'dev', 'flannel.1'])).filter((n) =>
    (n['state'] as string[] | undefined)?.includes('PERMANENT'),
  );
  const fdb = (await json(node, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).filter(
    (f) => f['mac'] !== '00:00:00:00:00:00',
  );
  return {
    routes: routes
      .map((r) => ({ dst: r['dst'], gateway: r['gateway'], flags: r['flags'] }))
      .sort((a, b) => String(a.dst).localeCompare(String(b.dst))),
    neighs: neighs
      .map((n) => ({ dst: n['dst'], lladdr: n['lladdr'] }))
      .sort((a, b) => String(a.dst).localeCompare(String(b.dst))),
    fdb: fdb
      .map((f) => ({ mac: f['mac'], dst: f['dst'], flags: f['flags'], state: f['state'] }))
      .sort((a, b) => String(a.mac).localeCompare(String(b.mac))),
  };
}

function flannelVxlanState(peers: Expected[]) {
  return {
    routes: peers.map((p) => ({ dst: p.subnet, gateway: p.net, flags: ['onlink'] })),
    neighs: peers.map((p) => ({ dst: p.net, lladdr: p.mac })),
    fdb: peers
      .map((p) => ({ mac: p.mac, dst: p.publicIp, flags: ['self'], state: 'permanent' }))
      .sort((a, b) => String(a.mac).localeCompare(String(b.mac))),
  };
}

async function kernelRoutesVia(node: LabNode) {
  return (await json(node, 'ip', ['route', 'show', 'proto', '77']))
    .map((r) => ({ dst: r['dst'], gateway: r['gateway'], dev: r['dev'] }))
    .sort((a, b) => String(a.dst).localeCompare(String(b.dst)));
}

async function pingMatrix(pods: Pod[]): Promise<void> {
  for (const a of pods) {
    for (const b of pods) {
      if (a === b) continue;
      // The claim is reachability: the first probe on a fresh pair may wait out ARP.
      await reachable(a, b);
      expect((await ping(a, b, 2)).loss, `${a.ns} -> ${b.ns}`).toBe(0);
    }
  }
}

const FLANNELD_PEER = {
  key: '10.244.250.0-24',
  value:
    '{"PublicIP":"198.18.77.77","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
};

for (const variant of ['vxlan', 'vxlan-direct', 'host-gw'] as const) {
  describe(`${variant} backend on three nodes`, () => {
    let lab: Lab;
    let pods: Pod[] = [];
    const backend =
      variant === 'host-gw'
        ? { Type: 'host-gw' }
        : { Type: 'vxlan', DirectRouting: variant === 'vxlan-direct' };

    beforeAll(async () => {
      lab = await Lab.create({ nodes: 3, networkConfig: { Network: '10.244.0.0/16', Backend: backend } });
      await Promise.all(lab.nodes.map((n) => n.startDaemon()));
      pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('connects every pod to every other pod', async () => {
      await pingMatrix(pods);
    });

    it('programs exactly what flanneld programs for the same leases', async () => {
      for (const node of lab.nodes) {
        const peers = await expectedPeers(lab, node);
        const env = await node.subnetEnv();
        if (variant === 'vxlan') {
          expect(env['FLANNEL_MTU']).toBe('1450');
          expect(await kernelVxlan(node)).toEqual(flannelVxlanState(peers));
          const link = (await json(node, 'ip', ['-d', 'link', 'show', 'flannel.1']))[0]!;
          const info = link['linkinfo'] as { info_kind: string; info_data: Record<string, unknown> };
          expect(info.info_kind).toBe('vxlan');
          expect(info.info_data).toMatchObject({
            id: 1,
            local: node.ip,
            link: 'eth0',
            port: 8472,
            learning: false,
          });
          expect(link['mtu']).toBe(1450);
          const addrs = (await json(node, 'ip', ['addr', 'show', 'flannel.1']))[0]!['addr_info'] as Array<{
            family: string;
            local: string;
            prefixlen: number;
          }>;
          expect(addrs.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).toEqual([
            env['FLANNEL_SUBNET']!.replace('.1/24', '.0/32'),
          ]);
          const own = (await leases(lab)).get(env['FLANNEL_SUBNET']!.replace('.1/', '.0/'))!;
          expect(own.BackendData?.VtepMAC).toBe(link['address']);
        } else {
          expect(env['FLANNEL_MTU']).toBe(variant === 'host-gw' ? '1500' : '1450');
          expect(await kernelRoutesVia(node)).toEqual(
            peers.map((p) => ({ dst: p.subnet, gateway: p.publicIp, dev: 'eth0' })),
          );
        }
      }
    });

    it("removes a departed peer's entries within 1 s", async () => {
      const gone = lab.nodes[2]!;
      const env = await gone.subnetEnv();
      const subnet = env['FLANNEL_SUBNET']!.replace('.1/24', '.0/24');
      await gone.stopDaemon();
      const c = lab.client();
      try {
        await c
          .delete()
          .key(`${lab.prefix}/subnets/${subnet.replace('/', '-')}`)
          .exec();
      } finally {
        c.close();
      }
      const t0 = Date.now();
      await expect
        .poll(
          async () =>
            JSON.stringify(await kernelVxlanOrRoutes(lab.nodes[0]!)).includes(subnet.split('/')[0]!),
          { timeout: 20_000, interval: 50 },
        )
        .toBe(false);
      console.log(`${variant}: peer entries removed ${Date.now() - t0} ms after the lease was deleted`);
      await gone.startDaemon();
    });

    it('converges to the exact peer set after kill -9, a lease change while down, and a restart', async () => {
      const victim = lab.nodes[0]!;
      await victim.stopDaemon('SIGKILL');
      const c = lab.client();
      try {
        // While it is down: one peer leaves, a flanneld-format peer (or a host-gw one) arrives.
        const env2 = await lab.nodes[1]!.subnetEnv();
        await lab.nodes[1]!.stopDaemon();
        await c
          .delete()
          .key(`${lab.prefix}/subnets/${env2['FLANNEL_SUBNET']!.replace('.1/24', '.0-24')}`)
          .exec();
        const extra =
          variant === 'host-gw'
            ? FLANNELD_PEER.value
                .replace(/,"BackendType".*/, ',"BackendType":"host-gw"}')
                .replace('198.18.77.77', lab.underlayIp(200))
            : FLANNELD_PEER.value;
        await c.put(`${lab.prefix}/subnets/${FLANNELD_PEER.key}`).value(extra).exec();
        const t0 = Date.now();
        await victim.startDaemon();
        const peers = await expectedPeers(lab, victim);
        if (variant === 'vxlan') expect(await kernelVxlan(victim)).toEqual(flannelVxlanState(peers));
        else if (variant === 'host-gw')
          expect(await kernelRoutesVia(victim)).toEqual(
            peers.map((p) => ({ dst: p.subnet, gateway: p.publicIp, dev: 'eth0' })),
          );
        else {
          // DirectRouting: on-L2 peers get a direct route; the flanneld peer (198.18.77.77, off our
          // L2) gets the full vxlan treatment.
          const routes = await kernelRoutesVia(victim);
          expect(routes.map((r) => r.dst)).toEqual(peers.map((p) => p.subnet));
          const vx = await kernelVxlan(victim);
          expect(vx.fdb).toEqual([
            { mac: 'c6:d2:32:6f:8f:44', dst: '198.18.77.77', flags: ['self'], state: 'permanent' },
          ]);
        }
        console.log(`${variant}: converged ${Date.now() - t0} ms after restart (includes process start)`);
        await c.delete().key(`${lab.prefix}/subnets/${FLANNELD_PEER.key}`).exec();
        await lab.nodes[1]!.startDaemon();
        await pingMatrix(pods.slice(0, 2));
      } finally {
        c.close();
      }
    });
  });
}

async function kernelVxlanOrRoutes(node: LabNode) {
  const hasVxlan = (await node.exec('ip', ['link', 'show', 'flannel.1'])).code === 0;
  return hasVxlan
    ? { vx: await kernelVxlan(node), routes: await kernelRoutesVia(node) }
    : { routes: await kernelRoutesVia(node) };
}

describe('vxlan device watch', () => {
  it('recreates flannel.1 with the same MAC when it is deleted, and re-programs peers', async () => {
    const lab = await Lab.create({
      nodes: 2,
      networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
    });
    try {
      await Promise.all(lab.nodes.map((n) => n.startDaemon()));
      const pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
      await pingMatrix(pods);
      const n = lab.nodes[0]!;
      const mac = (await json(n, 'ip', ['link', 'show', 'flannel.1']))[0]!['address'];
      await n.mustExec('ip', ['link', 'del', 'flannel.1']);
      await expect
        .poll(async () => (await n.exec('ip', ['link', 'show', 'flannel.1'])).code, { timeout: 20_000 })
        .toBe(0);
      expect((await json(n, 'ip', ['link', 'show', 'flannel.1']))[0]!['address']).toBe(mac);
      await expect.poll(async () => (await ping(pods[0]!, pods[1]!, 1)).loss, { timeout: 10_000 }).toBe(0);
      // A restart keeps the MAC too (peers' FDB entries point at it).
      await n.stopDaemon();
      await n.mustExec('ip', ['link', 'del', 'flannel.1']);
      await n.startDaemon();
      expect((await json(n, 'ip', ['link', 'show', 'flannel.1']))[0]!['address']).toBe(mac);
    } finally {
      await lab.destroy();
    }
  });
});
