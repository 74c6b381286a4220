/**
 * The wireguard backend in a dual-stack cluster (#18), Mode "separate" as flanneld runs it: nodes
 * 1 and 2 run overlayd with EnableIPv6 — flannel-wg and flannel-wg-v6, two engines, one key —
 * and node 3 is a dual-stack flanneld wireguard node on wireguard-go, two devices configured with
 * `wg` as flanneld configures its kernel flannel-wg and flannel-wg-v6 (test/lab/wireguard-go-node6.ts),
 * its lease written in flanneld's format. overlayd publishes BackendV6Data {PublicKey, Port 51821};
 * wireguard-go's flannel-wg-v6 takes it as a peer at [PublicIPv6]:51821; pods ping6 both ways over
 * ULA fd00:: addresses, 64 MiB over IPv6 arrives intact each way, `wg show flannel-wg-v6` has the
 * IPv6 endpoint and a handshake, IPv4 keeps working alongside, and the two overlayd nodes reach
 * each other over IPv6 too.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { dualLeaseOf, v6SubnetOf, type DualLease } from './lab/dual-lease.js';
import { ipJson } from './lab/kernel-state6.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { WireguardGoNode6 } from './lab/wireguard-go-node6.js';

const IPV6_NETWORK = 'fd00:10:244::/56';
const WGO_SUBNET = '10.244.200.0/24';
const WGO_SUBNET6 = 'fd00:10:244:c8::/64';

let lab: Lab;
let n1: LabNode, n2: LabNode;
let wgo: WireguardGoNode6;
let p1: Pod, p2: Pod, p3: Pod;

type WgLease = DualLease<{ PublicKey: string; Port: number }>;

const leaseOf = (node: LabNode): Promise<WgLease> => dualLeaseOf(lab, node);
const v6 = (p: Pod): Pod => ({ ...p, ip: p.ip6! });

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 3,
    networkConfig: {
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: IPV6_NETWORK,
      Backend: { Type: 'wireguard' },
    },
  });
  [n1, n2] = lab.nodes as [LabNode, LabNode];
  wgo = await WireguardGoNode6.start(lab.nodes[2]!, {
    subnet: WGO_SUBNET,
    subnet6: WGO_SUBNET6,
    network6: IPV6_NETWORK,
  });
  await wgo.writeLease();
  await Promise.all(
    [n1, n2].map((n) =>
      n.startDaemon({ env: { WIREGUARD_KEY_FILE: join(lab.dir, `n${n.index}`, 'wgkey') } }),
    ),
  );
  // flanneld on the wireguard-go node would see the overlayd leases through its watch: once here.
  await wgo.syncPeers();
  [p1, p2, p3] = (await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')))) as [Pod, Pod, Pod];
}, 120_000);
afterAll(async () => {
  await wgo?.stop();
  await lab?.destroy();
});

describe('dual-stack overlayd wireguard ↔ wireguard-go (flanneld Mode separate)', () => {
  it('publishes BackendV6Data with the same key and Port 51821, and sets up flannel-wg-v6 as flanneld does', async () => {
    const lease = await leaseOf(n1);
    expect(lease.BackendType).toBe('wireguard');
    expect(lease.PublicIPv6).toBe(n1.ip6);
    expect(lease.BackendData!.Port).toBe(51820);
    expect(lease.BackendV6Data).toEqual({ PublicKey: lease.BackendData!.PublicKey, Port: 51821 });
    expect((await n1.subnetEnv())['FLANNEL_MTU']).toBe('1420'); // 1500 − 80, both devices
    const [link] = await ipJson(n1, ['-d', 'link', 'show', 'flannel-wg-v6']);
    expect((link!['linkinfo'] as { info_kind: string }).info_kind).toBe('tun');
    expect(link!['mtu']).toBe(1420);
    const own6 = await v6SubnetOf(n1);
    const addrs = (await ipJson(n1, ['-6', 'addr', 'show', 'dev', 'flannel-wg-v6']))[0]![
      'addr_info'
    ] as Array<Record<string, unknown>>;
    expect(
      addrs.filter((a) => a['scope'] === 'global').map((a) => `${a['local']}/${a['prefixlen']}`),
    ).toEqual([own6.replace('/64', '/128')]);
    // One route for the IPv6Network (proto boot, as flanneld's; iproute2 leaves boot out), none per peer.
    const routes = (await ipJson(n1, ['-6', 'route', 'show', 'dev', 'flannel-wg-v6']))
      .filter((r) => !String(r['dst']).startsWith('fe80'))
      .map((r) => `${String(r['dst'])} ${String(r['protocol'] ?? 'boot')}`);
    expect(routes.sort()).toEqual([`${IPV6_NETWORK} boot`, `${own6.replace('/64', '')} kernel`].sort());
    // The UDP socket on the interface's IPv6 address and ListenPortV6.
    expect(await n1.mustExec('ss', ['-uln', '-6'])).toContain(`[${n1.ip6}]:51821`);
  });

  it("wireguard-go's flannel-wg-v6 has each overlayd node as a peer at [PublicIPv6]:51821", async () => {
    const peers = await wgo.v6.peers();
    const want = await Promise.all(
      [n1, n2].map(async (n) => ({
        publicKey: (await leaseOf(n)).BackendV6Data!.PublicKey,
        endpoint: `[${n.ip6}]:51821`,
        allowedIps: await v6SubnetOf(n),
      })),
    );
    expect(
      peers.map((p) => ({ publicKey: p.publicKey, endpoint: p.endpoint, allowedIps: p.allowedIps })),
    ).toEqual(expect.arrayContaining(want));
    expect(peers).toHaveLength(2);
  });

  it('pods ping6 both ways over ULA addresses; wg show flannel-wg-v6 has the IPv6 endpoint and a handshake', async () => {
    for (const p of [p1, p2, p3]) expect(p.ip6).toMatch(/^fd00:10:244:/);
    await reachable(p1, v6(p3)); // overlayd initiates; the first probe waits out ND and the handshake
    expect((await ping(p1, v6(p3), 3)).loss).toBe(0);
    expect((await ping(p3, v6(p1), 3)).loss).toBe(0);
    const key = (await leaseOf(n1)).BackendV6Data!.PublicKey;
    const peer = (await wgo.v6.peers()).find((p) => p.publicKey === key)!;
    expect(peer.endpoint).toBe(`[${n1.ip6}]:51821`);
    expect(peer.latestHandshake).toBeGreaterThan(0);
    expect(peer.rxBytes).toBeGreaterThan(0);
    expect(await n1.metric('overlayd_wireguard_events_total{event="sessions"}')).toBeGreaterThan(0);
  }, 60_000);

  it("carries 64 MiB over IPv6 intact each way, through wireguard-go's flannel-wg-v6", async () => {
    const key = (await leaseOf(n1)).BackendV6Data!.PublicKey;
    const counts = async () => (await wgo.v6.peers()).find((p) => p.publicKey === key)!;
    const before = await counts();
    const there = await transfer(p1, v6(p3), 64);
    expect(there.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(there.received).toBe(there.sent);
    const back = await transfer(p3, v6(p1), 64);
    expect(back.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(back.received).toBe(back.sent);
    // The bytes crossed the IPv6 device's session with overlayd, not some other path.
    const after = await counts();
    expect(after.rxBytes - before.rxBytes).toBeGreaterThan(64 * 2 ** 20);
    expect(after.txBytes - before.txBytes).toBeGreaterThan(64 * 2 ** 20);
  }, 180_000);

  it('keeps IPv4 working alongside, over flannel-wg', async () => {
    await reachable(p1, p3);
    expect((await ping(p1, p3, 3)).loss).toBe(0);
    expect((await ping(p3, p1, 3)).loss).toBe(0);
    const v4peer = (await wgo.v4.peers()).find((p) => p.endpoint === `${n1.ip}:51820`);
    expect(v4peer?.latestHandshake).toBeGreaterThan(0);
    const t = await transfer(p3, p1, 8);
    expect(t.received).toBe(t.sent);
  }, 60_000);

  it('two dual-stack overlayd nodes reach each other over IPv6 and IPv4', async () => {
    await reachable(p1, v6(p2));
    expect((await ping(p1, v6(p2), 3)).loss).toBe(0);
    expect((await ping(p2, v6(p1), 3)).loss).toBe(0);
    await reachable(p2, p1);
    expect((await ping(p2, p1, 3)).loss).toBe(0);
    const t = await transfer(p2, v6(p1), 16);
    expect(t.received).toBe(t.sent);
  }, 90_000);
});
