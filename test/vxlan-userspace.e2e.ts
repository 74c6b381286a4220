/**
 * The userspace vxlan datapath end to end: node 1 runs it (--vxlan-datapath=userspace), node 2
 * runs overlayd on the kernel's vxlan device, node 3 is a flanneld node built by hand (its lease
 * in flanneld's format, flannel.1 and its neighbour/FDB/route entries programmed with `ip` as
 * flanneld programs them). Pods ping, 64 MiB transfers arrive intact both ways with offloads on
 * and off, hostile VXLAN datagrams are dropped by reason under traffic, and `auto` falls back to
 * userspace when the kernel refuses the device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUdp4, randomBytes } from './support/test-packets.js';
import { parseIpv4 } from '../core/ipv4.js';
import { Lab } from './lab/lab.js';
import { waitRoute } from './lab/wait-route.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, inPod, ping, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { floodHostile, segmentTunnelsToward, vxlanFrame } from './lab/hostile-vxlan.js';

const HAND_SUBNET = '10.244.200.0/24';
const HAND_MAC = '02:f1:00:00:00:03';

let lab: Lab;
let pods: Pod[] = [];
let user: LabNode, kern: LabNode, hand: LabNode;

interface VxlanLease {
  PublicIP: string;
  BackendType?: string;
  BackendData?: { VNI: number; VtepMAC: string };
}

async function leaseOf(node: LabNode): Promise<{ subnet: string; lease: VxlanLease }> {
  const subnet = (await node.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/');
  const c = lab.client();
  try {
    const v = await c.get(`${lab.prefix}/subnets/${subnet.replace('/', '-')}`).string();
    return { subnet, lease: JSON.parse(v!) as VxlanLease };
  } finally {
    c.close();
  }
}

/** What flanneld programs on its node for one vxlan peer (its order: neighbour, FDB, route). */
async function programByHand(node: LabNode, peer: LabNode): Promise<void> {
  const { subnet, lease } = await leaseOf(peer);
  const net = subnet.split('/')[0]!;
  const mac = lease.BackendData!.VtepMAC;
  await node.mustExec('ip', ['neigh', 'replace', net, 'lladdr', mac, 'dev', 'flannel.1', 'nud', 'permanent']);
  await node.mustExec('bridge', [
    'fdb',
    'replace',
    mac,
    'dev',
    'flannel.1',
    'dst',
    lease.PublicIP,
    'self',
    'permanent',
  ]);
  await node.mustExec('ip', ['route', 'replace', subnet, 'via', net, 'dev', 'flannel.1', 'onlink']);
}

async function buildHandNode(): Promise<void> {
  await hand.mustExec(
    'ip',
    ['link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', hand.ip].concat([
      'dev',
      'eth0',
      'dstport',
      '8472',
      'nolearning',
    ]),
  );
  await hand.mustExec('ip', ['link', 'set', 'flannel.1', 'address', HAND_MAC, 'mtu', '1450', 'up']);
  await hand.mustExec('ip', ['addr', 'add', '10.244.200.0/32', 'dev', 'flannel.1']);
  await hand.mustExec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  const value = JSON.stringify({
    PublicIP: hand.ip,
    PublicIPv6: null,
    BackendType: 'vxlan',
    BackendData: { VNI: 1, VtepMAC: HAND_MAC },
  });
  const c = lab.client();
  try {
    await c
      .put(`${lab.prefix}/subnets/${HAND_SUBNET.replace('/', '-')}`)
      .value(value)
      .exec();
  } finally {
    c.close();
  }
  await hand.writeSubnetEnv('10.244.200.1/24', 1450);
}

const userFlags = (extra: string[] = []) => ['--vxlan-datapath=userspace', ...extra];

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 3,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
  });
  [user, kern, hand] = lab.nodes as [LabNode, LabNode, LabNode];
  await segmentTunnelsToward(lab, user);
  await buildHandNode();
  await Promise.all([
    user.startDaemon({ flags: userFlags() }),
    kern.startDaemon({ flags: ['--vxlan-datapath=kernel'] }),
  ]);
  await programByHand(hand, user);
  await programByHand(hand, kern);
  await waitRoute(user, HAND_SUBNET, 'flannel.1', { timeoutMs: 10_000 });
  await waitRoute(kern, HAND_SUBNET, 'flannel.1', { timeoutMs: 10_000 });
  pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
}, 120_000);
afterAll(async () => {
  await lab?.destroy();
});

describe('userspace vxlan beside kernel vxlan and flanneld', () => {
  it('publishes a flannel vxlan lease and sets up a flannel.1 TUN with routes per peer', async () => {
    const { lease } = await leaseOf(user);
    expect(lease.BackendType).toBe('vxlan');
    expect(lease.BackendData!.VNI).toBe(1);
    expect(lease.BackendData!.VtepMAC).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect((await user.subnetEnv())['FLANNEL_MTU']).toBe('1450');
    const link = JSON.parse(await user.mustExec('ip', ['-d', '-j', 'link', 'show', 'flannel.1']))[0];
    expect(link.linkinfo.info_kind).toBe('tun');
    expect(link.mtu).toBe(1450);
    const routes = JSON.parse(await user.mustExec('ip', ['-j', 'route', 'show', 'dev', 'flannel.1']));
    const dsts = routes.map((r: { dst: string }) => r.dst).sort();
    const kernSubnet = (await leaseOf(kern)).subnet;
    // The Network via the TUN (an address without a lease gets ICMP net unreachable from the
    // engine, as on a udp node), and each peer's subnet, the route the periodic reconcile keeps.
    expect(dsts).toEqual(['10.244.0.0/16', kernSubnet, HAND_SUBNET].sort());
    for (const r of routes) expect(r.gateway).toBeUndefined();
  });

  it('pods ping both ways with the kernel-vxlan node and the hand-built flanneld node', async () => {
    const [pu, pk, ph] = pods as [Pod, Pod, Pod];
    for (const [a, b] of [
      [pu, pk],
      [pk, pu],
      [pu, ph],
      [ph, pu],
    ] as const) {
      const r = await ping(a, b, 3);
      expect(r.loss, `${a.ns} -> ${b.ns}`).toBe(0);
    }
  });

  it('pods ping at full MTU both ways, without fragments', async () => {
    const [pu, pk, ph] = pods as [Pod, Pod, Pod];
    for (const [a, b] of [
      [pu, pk],
      [pk, pu],
      [pu, ph],
      [ph, pu],
    ] as const) {
      const r = await inPod(a, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '1422', b.ip]);
      expect(r.stdout, `${a.ns} -> ${b.ns}`).toMatch(/ 0% packet loss/);
    }
  });

  for (const offloads of ['auto', 'off'])
    it(`carries 64 MiB intact each way to both kinds of kernel peer (offloads ${offloads})`, async () => {
      if (offloads === 'off') {
        await user.stopDaemon();
        await user.startDaemon({ flags: userFlags(['--udp-offloads=off']) });
        await waitRoute(user, HAND_SUBNET, 'flannel.1', { timeoutMs: 10_000 });
      }
      const [pu, pk, ph] = pods as [Pod, Pod, Pod];
      for (const [a, b] of [
        [pu, pk],
        [pk, pu],
        [pu, ph],
        [ph, pu],
      ] as const) {
        const r = await transfer(a, b, 64);
        expect(r.sent, `${a.ns} -> ${b.ns}`).toMatch(/^[0-9a-f]{64}$/);
        expect(r.received, `${a.ns} -> ${b.ns}`).toBe(r.sent);
      }
      expect(await user.metric('overlayd_udp_packets_total{direction="rx"}')).toBeGreaterThan(40_000);
      if (offloads === 'off') {
        await user.stopDaemon();
        await user.startDaemon({ flags: userFlags() });
        await waitRoute(user, HAND_SUBNET, 'flannel.1', { timeoutMs: 10_000 });
      }
    }, 300_000);

  it('drops hostile VXLAN datagrams by reason while a transfer runs, and keeps the transfer intact', async () => {
    const { lease } = await leaseOf(user);
    const ownMac = Buffer.from(lease.BackendData!.VtepMAC.replaceAll(':', ''), 'hex');
    const podIp = parseIpv4(pods[0]!.ip)!;
    const vxlan = (vni: number, dstMac: Buffer, inner: Uint8Array): Buffer =>
      vxlanFrame(vni, dstMac, HAND_MAC, 0x0800, inner);
    const good = makeUdp4(parseIpv4('10.244.200.9')!, podIp, randomBytes(64));
    const spoofedInner = makeUdp4(parseIpv4('10.244.77.7')!, podIp, randomBytes(64));
    const foreign = Buffer.from('02deadbeef01', 'hex');
    const kinds = {
      wrong_vni: vxlan(2, ownMac, good),
      foreign_mac: vxlan(1, foreign, good),
      spoofed_source: vxlan(1, ownMac, spoofedInner),
      truncated: vxlan(1, ownMac, good).subarray(0, 12),
    };
    // The hand node is a known peer: datagrams from its PublicIP (another source port, as any
    // VXLAN sender); an extra address on its underlay is an unknown one.
    const stranger = hand.ip.replace(/\.\d+$/, '.222');
    await hand.mustExec('ip', ['addr', 'add', `${stranger}/24`, 'dev', 'eth0']);
    await floodHostile({
      family: 4,
      from: hand,
      known: hand.ip,
      stranger,
      target: user,
      targetIp: user.ip,
      kinds,
      strangerSends: 'spoofed_source',
      transfer: () => transfer(pods[1]!, pods[0]!, 64),
    });
  }, 180_000);

  it('auto picks userspace when the kernel refuses the device, keeping the VtepMAC', async () => {
    const mac = (await leaseOf(user)).lease.BackendData!.VtepMAC;
    const isChoice = (l: Record<string, unknown>) => String(l['msg']).startsWith('vxlan datapath chosen');
    const earlier = (await user.logs()).filter(isChoice).length;
    await user.stopDaemon();
    // A down vxlan device with the same VNI and port: the kernel refuses a second one (EEXIST,
    // "A VXLAN device with the specified VNI already exists") but holds no socket on 8472.
    await user.mustExec(
      'ip',
      ['link', 'add', 'vxblock', 'type', 'vxlan', 'id', '1', 'dstport', '8472'].concat([
        'nolearning',
        'local',
        user.ip,
        'dev',
        'eth0',
      ]),
    );
    await user.startDaemon({ flags: ['--vxlan-datapath=auto'] });
    const chosen = (await user.waitForLogs(isChoice, { atLeast: earlier + 1 })).slice(earlier);
    expect(chosen).toHaveLength(1);
    expect(chosen[0]!['datapath']).toBe('userspace');
    expect(String(chosen[0]!['reason'])).toMatch(/create flannel\.1: EEXIST/);
    expect((await leaseOf(user)).lease.BackendData!.VtepMAC).toBe(mac);
    await waitRoute(user, HAND_SUBNET, 'flannel.1', { timeoutMs: 10_000 });
    const r = await ping(pods[0]!, pods[2]!, 3);
    expect(r.loss).toBe(0);
    await user.stopDaemon();
    await user.mustExec('ip', ['link', 'del', 'vxblock']);
  }, 120_000);
});
