/**
 * The userspace vxlan datapath in a dual-stack cluster, end to end: node 1 runs it
 * (--vxlan-datapath=userspace) with EnableIPv6, node 2 runs overlayd on the kernel's vxlan devices
 * (flannel.1 and flannel-v6.1, the state flanneld programs), node 3 is a dual-stack flanneld node
 * built by hand (test/lab/hand-node6.ts). Node 1 publishes BackendV6Data and carries flannel-v6.1
 * in userspace — VXLAN over UDP/IPv6 with EtherType 86DD — so the kernel nodes program it as any
 * dual-stack vxlan peer: pods ping6 both ways over ULA fd00:: addresses, 64 MiB over IPv6 arrives
 * intact in each direction (offloads on and off), hostile IPv6 VXLAN datagrams are dropped by
 * reason while a transfer runs, IPv4 keeps working alongside, and the v6 VtepMAC survives a
 * restart. A second lab checks DirectRouting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import { waitRoute } from './lab/wait-route.js';
import type { LabNode } from './lab/lab-node.js';
import { dualLeaseOf, v6SubnetOf, type DualLease } from './lab/dual-lease.js';
import { addPod, inPod, ping, reachable, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { floodHostile, segmentTunnelsToward, vxlanFrame } from './lab/hostile-vxlan.js';
import { expectedVxlan6, ipJson, kernelVxlan6 } from './lab/kernel-state6.js';
import { buildHandNode6, programPeer, type HandNode6 } from './lab/hand-node6.js';
import { ipv6Bytes, makeUdp6 } from './support/test-packets6.js';
import { randomBytes } from './support/test-packets.js';

const IPV6_NETWORK = 'fd00:10:244::/56';
const userFlags = ['--vxlan-datapath=userspace'];
const HAND_SUBNET = '10.244.200.0/24';
const HAND_SUBNET6 = 'fd00:10:244:c8::/64';
const HAND_MAC = '02:f1:00:00:00:03';
const HAND_MAC6 = '02:f1:00:00:06:03';

let lab: Lab;
let user: LabNode, kern: LabNode;
let hand: HandNode6;
let pu: Pod, pk: Pod, ph: Pod;

type Lease6 = DualLease<{ VNI: number; VtepMAC: string }>;

const leaseOf = (node: LabNode): Promise<Lease6> => dualLeaseOf(lab, node);

async function waitPeers(): Promise<void> {
  await waitRoute(user, await v6SubnetOf(kern), 'flannel-v6.1');
  await waitRoute(kern, await v6SubnetOf(user), 'flannel-v6.1');
  await waitRoute(user, HAND_SUBNET6, 'flannel-v6.1');
}

/** The hand node's entries for an overlayd node, from its lease, as flanneld programs them. */
async function programHand(node: LabNode): Promise<void> {
  const v4 = (await node.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/');
  await programPeer(hand, v4, await v6SubnetOf(node), await leaseOf(node));
}

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 3,
    networkConfig: {
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: IPV6_NETWORK,
      Backend: { Type: 'vxlan' },
    },
  });
  [user, kern] = lab.nodes as [LabNode, LabNode];
  hand = await buildHandNode6(lab, lab.nodes[2]!, {
    subnet: HAND_SUBNET,
    subnet6: HAND_SUBNET6,
    ipv6Network: IPV6_NETWORK,
    mac: HAND_MAC,
    mac6: HAND_MAC6,
  });
  await segmentTunnelsToward(lab, user);
  await Promise.all([
    user.startDaemon({ flags: userFlags }),
    kern.startDaemon({ flags: ['--vxlan-datapath=kernel'] }),
  ]);
  await programHand(user);
  await programHand(kern);
  await waitPeers();
  [pu, pk, ph] = (await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')))) as [Pod, Pod, Pod];
}, 120_000);
afterAll(async () => {
  await lab?.destroy();
});

describe('dual-stack userspace vxlan beside a kernel-vxlan node', () => {
  it('publishes BackendV6Data with a VtepMAC of its own and sets up flannel-v6.1 as a TUN', async () => {
    const lease = await leaseOf(user);
    expect(lease.BackendType).toBe('vxlan');
    expect(lease.PublicIPv6).toBe(user.ip6);
    expect(lease.BackendV6Data!.VNI).toBe(1);
    expect(lease.BackendV6Data!.VtepMAC).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(lease.BackendV6Data!.VtepMAC).not.toBe(lease.BackendData!.VtepMAC);
    // FLANNEL_MTU is the smaller overlay MTU, the IPv6 device's: 1500 − 70.
    expect((await user.subnetEnv())['FLANNEL_MTU']).toBe('1430');
    const [link] = await ipJson(user, ['-d', 'link', 'show', 'flannel-v6.1']);
    expect((link!['linkinfo'] as { info_kind: string }).info_kind).toBe('tun');
    expect(link!['mtu']).toBe(1430);
    const own6 = await v6SubnetOf(user);
    const addrs = (await ipJson(user, ['-6', 'addr', 'show', 'dev', 'flannel-v6.1']))[0]![
      'addr_info'
    ] as Array<Record<string, unknown>>;
    expect(
      addrs.filter((a) => a['scope'] === 'global').map((a) => `${a['local']}/${a['prefixlen']}`),
    ).toEqual([own6.replace('/64', '/128')]);
    // The IPv6Network (ours, proto boot) and the kernel node's v6 subnet (the reconciled peer route,
    // proto 77) via the TUN, no gateway (the engine picks the peer); the kernel adds the /128's own.
    const routes = await ipJson(user, ['-6', 'route', 'show', 'dev', 'flannel-v6.1']);
    const dsts = routes
      .filter((r) => !String(r['dst']).startsWith('fe80'))
      .map((r) => `${String(r['dst'])} ${String(r['protocol'] ?? 'boot')}`); // iproute2 leaves boot out
    expect(dsts.sort()).toEqual(
      [
        `${IPV6_NETWORK} boot`,
        `${await v6SubnetOf(kern)} 77`,
        `${HAND_SUBNET6} 77`,
        `${own6.replace('/64', '')} kernel`,
      ].sort(),
    );
    for (const r of routes) expect(r['gateway']).toBeUndefined();
  });

  it("programs the kernel node's flannel-v6.1 for it exactly as flanneld programs a dual-stack peer", async () => {
    const have = await kernelVxlan6(kern);
    const want = await expectedVxlan6(lab, kern);
    expect(have).toEqual(want);
    const mac6 = (await leaseOf(user)).BackendV6Data!.VtepMAC;
    expect(have.fdb).toContainEqual({ mac: mac6, dst: user.ip6, state: 'permanent' });
    expect(have.fdb).toHaveLength(2); // the userspace node and the hand-built one
  });

  it('pods ping6 both ways over ULA addresses with both kinds of kernel peer, and ping over IPv4 alongside', async () => {
    for (const p of [pu, pk, ph]) expect(p.ip6).toMatch(/^fd00:/);
    for (const [a, b] of [
      [pu, pk],
      [pk, pu],
      [pu, ph],
      [ph, pu],
    ] as const) {
      expect((await ping(a, { ip: b.ip6! }, 3)).loss, `${a.ns} -> ${b.ip6}`).toBe(0);
      expect((await ping(a, b, 3)).loss, `${a.ns} -> ${b.ip}`).toBe(0);
    }
  });

  it('pods ping6 at the full v6 overlay MTU both ways, without fragments', async () => {
    // 1430 − 40 (IPv6) − 8 (ICMPv6) = 1382 bytes of payload: the largest a pod's packet can be.
    for (const [a, b] of [
      [pu, pk],
      [pk, pu],
    ] as const) {
      const r = await inPod(a, 'ping', [
        '-6',
        '-c',
        '2',
        '-i',
        '0.2',
        '-W',
        '2',
        '-M',
        'do',
        '-s',
        '1382',
        b.ip6!,
      ]);
      expect(r.stdout, `${a.ns} -> ${b.ip6}`).toMatch(/ 0% packet loss/);
    }
  });

  for (const offloads of ['auto', 'off'])
    it(`carries 64 MiB over IPv6 intact in each direction, counted by the v6 workers (offloads ${offloads})`, async () => {
      if (offloads === 'off') {
        await user.stopDaemon();
        await user.startDaemon({ flags: [...userFlags, '--udp-offloads=off'] });
        await waitPeers();
      }
      const batches = (dir: string) =>
        user.metric(`overlayd_udp_batches_total{direction="${dir}",worker="v6-duplex-0"}`);
      const before = { rx: await batches('rx'), tx: await batches('tx') };
      for (const [a, b] of [
        [pu, pk],
        [pk, pu],
        [pu, ph],
        [ph, pu],
      ] as const) {
        const r = await transfer(a, { ...b, ip: b.ip6! }, 64);
        expect(r.sent, `${a.ns} -> ${b.ip6}`).toMatch(/^[0-9a-f]{64}$/);
        expect(r.received, `${a.ns} -> ${b.ip6}`).toBe(r.sent);
      }
      // The IPv6 traffic went through the userspace flannel-v6.1 (its workers), not around it.
      expect(await batches('rx')).toBeGreaterThan(before.rx);
      expect(await batches('tx')).toBeGreaterThan(before.tx);
      expect(await user.metric('overlayd_udp_offload_enabled{feature="tun_vnet_hdr"}')).toBe(
        offloads === 'off' ? 0 : 1,
      );
      for (const reason of ['spoofed_source', 'wrong_destination', 'not_ipv6', 'bad_length', 'oversized'])
        expect(await user.metric(`overlayd_udp_drops_total{direction="rx",reason="${reason}"}`), reason).toBe(
          0,
        );
      if (offloads === 'off') {
        await user.stopDaemon();
        await user.startDaemon({ flags: userFlags });
        await waitPeers();
      }
    }, 300_000);

  it('drops hostile IPv6 VXLAN datagrams by reason while a transfer runs, and keeps the transfer intact', async () => {
    const ownMac6 = Buffer.from((await leaseOf(user)).BackendV6Data!.VtepMAC.replaceAll(':', ''), 'hex');
    const podIp6 = pu.ip6!;
    const vxlan = (vni: number, dstMac: Buffer, etherType: number, inner: Uint8Array): Buffer =>
      vxlanFrame(vni, dstMac, HAND_MAC6, etherType, inner);
    const good = makeUdp6('fd00:10:244:c8::9', podIp6, randomBytes(64));
    const spoofed = makeUdp6('fd00:10:244:77::7', podIp6, randomBytes(64));
    const v4Shaped = Uint8Array.from(good);
    v4Shaped[0] = 0x45;
    const kinds = {
      wrong_vni: vxlan(2, ownMac6, 0x86dd, good),
      foreign_mac: vxlan(1, Buffer.from('02deadbeef01', 'hex'), 0x86dd, good),
      bad_ethertype: vxlan(1, ownMac6, 0x0800, good),
      not_ipv6: vxlan(1, ownMac6, 0x86dd, v4Shaped),
      spoofed_source: vxlan(1, ownMac6, 0x86dd, spoofed),
      truncated: vxlan(1, ownMac6, 0x86dd, good).subarray(0, 12),
    };
    // The hand node is a known v6 peer: datagrams from its PublicIPv6 (another source port, as any
    // VXLAN sender); an extra ULA address on its underlay is an unknown one.
    const stranger = hand.node.ip6.replace(/::[0-9a-f]+$/, '::222');
    expect(Buffer.from(ipv6Bytes(stranger)).equals(Buffer.from(ipv6Bytes(hand.node.ip6)))).toBe(false);
    await hand.node.mustExec('ip', ['addr', 'add', `${stranger}/64`, 'dev', 'eth0', 'nodad']);
    await floodHostile({
      family: 6,
      from: hand.node,
      known: hand.node.ip6,
      stranger,
      target: user,
      targetIp: user.ip6,
      kinds,
      strangerSends: 'spoofed_source',
      transfer: () => transfer(pk, { ...pu, ip: pu.ip6! }, 64),
    });
  }, 180_000);

  it('keeps carrying IPv4 alongside: 16 MiB each way intact', async () => {
    for (const [a, b] of [
      [pu, pk],
      [pk, pu],
    ] as const) {
      const r = await transfer(a, b, 16);
      expect(r.received, `${a.ns} -> ${b.ip}`).toBe(r.sent);
    }
  }, 120_000);

  it('repairs a deleted flannel-v6.1 (address, IPv6Network and peer routes back) and IPv6 traffic resumes', async () => {
    const failures = () => user.metric('overlayd_datapath_failures_total{reason="tun_deleted"}');
    const before = await failures();
    await user.mustExec('ip', ['link', 'del', 'flannel-v6.1']);
    for (let i = 0; i < 200 && (await failures()) === before; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await failures()).toBe(before + 1);
    await waitPeers(); // the per-peer v6 routes, through the new TUN
    const errors = (await user.logs()).filter((l) => String(l['msg']).startsWith('udp datapath down:'));
    expect(errors.map((l) => String(l['msg']))).toContainEqual(
      expect.stringMatching(/TUN flannel-v6\.1 deleted/),
    );
    const [link] = await ipJson(user, ['-6', 'addr', 'show', 'dev', 'flannel-v6.1']);
    expect(link!['mtu']).toBe(1430);
    const routes = (await ipJson(user, ['-6', 'route', 'show', 'dev', 'flannel-v6.1'])).map((r) =>
      String(r['dst']),
    );
    expect(routes).toEqual(expect.arrayContaining([IPV6_NETWORK, await v6SubnetOf(kern), HAND_SUBNET6]));
    for (const [a, b] of [
      [pu, pk],
      [ph, pu],
    ] as const)
      expect((await ping(a, { ip: b.ip6! }, 3)).loss, `${a.ns} -> ${b.ip6}`).toBe(0);
    // The IPv4 device was not touched.
    expect((await ping(pu, pk, 2)).loss).toBe(0);
  }, 120_000);

  it('keeps both VtepMACs across a restart, so the kernel peer needs no new entries', async () => {
    const before = await leaseOf(user);
    await user.stopDaemon();
    await user.startDaemon({ flags: userFlags });
    await waitPeers();
    const after = await leaseOf(user);
    expect(after.BackendData!.VtepMAC).toBe(before.BackendData!.VtepMAC);
    expect(after.BackendV6Data!.VtepMAC).toBe(before.BackendV6Data!.VtepMAC);
    expect((await ping(pk, { ip: pu.ip6! }, 3)).loss).toBe(0);
  }, 120_000);
});

describe('dual-stack userspace vxlan with DirectRouting', () => {
  let dlab: Lab;
  let du: LabNode, dk: LabNode;
  let dpu: Pod, dpk: Pod;
  beforeAll(async () => {
    dlab = await Lab.create({
      nodes: 2,
      networkConfig: {
        Network: '10.244.0.0/16',
        EnableIPv6: true,
        IPv6Network: IPV6_NETWORK,
        Backend: { Type: 'vxlan', DirectRouting: true },
      },
    });
    [du, dk] = dlab.nodes as [LabNode, LabNode];
    await Promise.all([
      du.startDaemon({ flags: userFlags }),
      dk.startDaemon({ flags: ['--vxlan-datapath=kernel'] }),
    ]);
    const sub6 = async (n: LabNode) => (await n.subnetEnv())['FLANNEL_IPV6_SUBNET']!.replace('::1/', '::/');
    await waitRoute(du, await sub6(dk), 'eth0');
    await waitRoute(dk, await sub6(du), 'eth0');
    [dpu, dpk] = (await Promise.all(dlab.nodes.map((n) => addPod(n, 'p1')))) as [Pod, Pod];
  }, 120_000);
  afterAll(async () => {
    await dlab?.destroy();
  });

  it("routes an on-L2 peer's IPv6 subnet via its PublicIPv6, as the kernel backend does, and pods ping6 both ways", async () => {
    const sub6 = (await dk.subnetEnv())['FLANNEL_IPV6_SUBNET']!.replace('::1/', '::/');
    const [r] = await ipJson(du, ['-6', 'route', 'show', sub6]);
    expect({ gateway: r!['gateway'], dev: r!['dev'], protocol: r!['protocol'] }).toEqual({
      gateway: dk.ip6,
      dev: 'eth0',
      protocol: '77',
    });
    // Nothing for it goes through the v6 TUN: only the IPv6Network and our own address route there.
    const viaTun = (await ipJson(du, ['-6', 'route', 'show', 'dev', 'flannel-v6.1'])).map((x) =>
      String(x['dst']),
    );
    expect(viaTun).not.toContain(sub6);
    for (const [a, b] of [
      [dpu, dpk],
      [dpk, dpu],
    ] as const)
      expect((await ping(a, { ip: b.ip6! }, 3)).loss, `${a.ns} -> ${b.ip6}`).toBe(0);
  });
});

describe('dual-stack userspace vxlan beside a flanneld node whose flannel-v6.1 is base − 50', () => {
  // flanneld subtracts 50 for its IPv6 device too (flannel issue #1781), so with Backend.MTU 1450
  // its flannel-v6.1 is 1400 while ours is 1380 (1450 − 70), and its pods may send us 1400-byte
  // packets whose 1470-byte outer datagrams fit the 1500 underlay. The kernel's VXLAN takes them
  // and hands them to routing, which finds them too big for our 1380-byte pod link; the userspace
  // datapath must do the same, not drop them as oversized.
  let mlab: Lab;
  let mu: LabNode;
  let mhand: HandNode6;
  let mpu: Pod, mph: Pod;
  beforeAll(async () => {
    mlab = await Lab.create({
      nodes: 2,
      networkConfig: {
        Network: '10.244.0.0/16',
        EnableIPv6: true,
        IPv6Network: IPV6_NETWORK,
        Backend: { Type: 'vxlan', MTU: 1450 },
      },
    });
    mu = mlab.nodes[0]!;
    mhand = await buildHandNode6(mlab, mlab.nodes[1]!, {
      subnet: HAND_SUBNET,
      subnet6: HAND_SUBNET6,
      ipv6Network: IPV6_NETWORK,
      mac: HAND_MAC,
      mac6: HAND_MAC6,
      base: 1450,
    });
    await mu.startDaemon({ flags: userFlags });
    const v4 = (await mu.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/');
    await programPeer(mhand, v4, await v6SubnetOf(mu), await dualLeaseOf(mlab, mu));
    await waitRoute(mu, HAND_SUBNET6, 'flannel-v6.1');
    [mpu, mph] = (await Promise.all(mlab.nodes.map((n) => addPod(n, 'p1')))) as [Pod, Pod];
  }, 120_000);
  afterAll(async () => {
    await mlab?.destroy();
  });

  it('delivers its 1400-byte packets into flannel-v6.1 (MTU 1380) instead of dropping them as oversized', async () => {
    const link = (await ipJson(mu, ['-d', 'link', 'show', 'flannel-v6.1']))[0];
    expect(link!['mtu']).toBe(1380);
    await reachable(mph, { ip: mpu.ip6! }); // the path exists at the usual sizes
    const oversized = 'overlayd_udp_drops_total{direction="rx",reason="oversized"}';
    // The node's kernel counts a packet it must forward to a smaller link as Ip6InTooBigErrors:
    // that counter moving is the proof the packet came out of our TUN, whole.
    const tooBig = async (): Promise<number> =>
      Number(/^Ip6InTooBigErrors\s+(\d+)/m.exec(await mu.mustExec('cat', ['/proc/net/snmp6']))?.[1]);
    const [dropsBefore, tooBigBefore] = [await mu.metric(oversized), await tooBig()];
    // 1400 − 40 (IPv6) − 8 (ICMPv6) = 1352 bytes of payload.
    await inPod(mph, 'ping', ['-6', '-c', '5', '-i', '0.2', '-W', '1', '-s', '1352', mpu.ip6!]);
    await expect.poll(tooBig, { timeout: 20_000 }).toBeGreaterThanOrEqual(tooBigBefore + 5);
    expect(await mu.metric(oversized)).toBe(dropsBefore);
  });
});
