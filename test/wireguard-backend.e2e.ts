/**
 * The wireguard backend end to end: two overlayd nodes with Backend.Type "wireguard" in lab
 * namespaces, each with its own key file (lab nodes share a filesystem: WIREGUARD_KEY_FILE per
 * node). Their leases are flannel's (BackendData {PublicKey, Port}), flannel-wg is a TUN with
 * MTU underlay − 80 and one route for the Network; pods ping both ways (the first packet waits
 * for the handshake), 64 MiB arrive intact each way, the underlay carries only WireGuard messages,
 * and a restart keeps the key. Interop with wireguard-go and the security suite are
 * test/wireguard.e2e.ts (wg-interop).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { UnderlayCapture } from './lab/underlay-capture.js';
import { flannelWgRoute } from './lab/wireguard-go-node.js';

let lab: Lab;
let pods: Pod[] = [];
let nodes: LabNode[] = [];

interface WgLease {
  PublicIP: string;
  BackendType?: string;
  BackendData?: { PublicKey: string; Port: number };
}

const keyFile = (n: LabNode): string => join(lab.dir, `n${n.index}`, 'wgkey');
const start = (n: LabNode): Promise<void> => n.startDaemon({ env: { WIREGUARD_KEY_FILE: keyFile(n) } });

async function leaseOf(node: LabNode): Promise<{ subnet: string; lease: WgLease }> {
  const subnet = (await node.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/');
  const c = lab.client();
  try {
    const v = await c.get(`${lab.prefix}/subnets/${subnet.replace('/', '-')}`).string();
    return { subnet, lease: JSON.parse(v!) as WgLease };
  } finally {
    c.close();
  }
}

/**
 * Message types of the UDP payloads in captured frames (Ethernet, IPv4): the first word of every
 * WireGuard message is its type (1–4) and three zero bytes; anything else counts as type -1.
 */
function wireguardTypes(frames: readonly Uint8Array[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const frame of frames) {
    if (frame.length < 14 + 20 + 8 + 4 || ((frame[12]! << 8) | frame[13]!) !== 0x0800) continue;
    const udp = 14 + (frame[14]! & 0x0f) * 4;
    const p = frame.subarray(udp + 8);
    const t = p[1] === 0 && p[2] === 0 && p[3] === 0 ? p[0]! : -1;
    out.set(t, (out.get(t) ?? 0) + 1);
  }
  return out;
}

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  nodes = [...lab.nodes];
  await Promise.all(nodes.map(start));
  pods = await Promise.all(nodes.map((n) => addPod(n, 'p1')));
}, 120_000);
afterAll(async () => {
  await lab?.destroy();
});

describe('wireguard backend (overlayd userspace WireGuard on both nodes)', () => {
  it("publishes flannel's wireguard lease and keeps the private key in a 0400 file", async () => {
    for (const n of nodes) {
      const { lease } = await leaseOf(n);
      expect(lease.BackendType).toBe('wireguard');
      expect(lease.BackendData!.PublicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(lease.BackendData!.Port).toBe(51820);
      expect(statSync(keyFile(n)).mode & 0o777).toBe(0o400);
      expect(JSON.stringify(lease)).not.toContain(readFileSync(keyFile(n), 'utf8'));
    }
  });

  it('sets up flannel-wg as a TUN with MTU underlay − 80, its lease address and one route for the Network', async () => {
    for (const n of nodes) {
      expect((await n.subnetEnv())['FLANNEL_MTU']).toBe('1420');
      const link = JSON.parse(await n.mustExec('ip', ['-d', '-j', 'link', 'show', 'flannel-wg']))[0];
      expect(link.linkinfo.info_kind).toBe('tun');
      expect(link.mtu).toBe(1420);
      // flanneld's route exactly (scope link, proto boot, no src): tools reading the table see one shape.
      const routes = JSON.parse(await n.mustExec('ip', ['-d', '-j', 'route', 'show', 'dev', 'flannel-wg']));
      expect(routes).toEqual([flannelWgRoute('10.244.0.0/16')]);
      const { subnet } = await leaseOf(n);
      const addrs = await n.mustExec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'flannel-wg']);
      expect(addrs).toContain(`${subnet.split('/')[0]}/32`);
    }
  });

  it('pods ping both ways (the first packets wait for the handshake, none is lost)', async () => {
    const [a, b] = pods as [Pod, Pod];
    expect((await ping(a, b, 3)).loss).toBe(0);
    expect((await ping(b, a, 3)).loss).toBe(0);
    for (const n of nodes)
      expect(await n.metric('overlayd_wireguard_events_total{event="sessions"}')).toBeGreaterThan(0);
  });

  it('carries 64 MiB intact each way, sealed: only WireGuard messages on the underlay', async () => {
    const [a, b] = pods as [Pod, Pod];
    // Started means tcpdump said it is listening, so the sample holds the transfer's first packets
    // whatever the machine's speed; it stops by itself after 3000 of them.
    const capture = await UnderlayCapture.start(nodes[1]!.ns, lab.dir, 'udp port 51820', 'eth0', {
      count: 3000,
    });
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const r = await transfer(x, y, 64);
      expect(r.sent, `${x.ns} -> ${y.ns}`).toMatch(/^[0-9a-f]{64}$/);
      expect(r.received, `${x.ns} -> ${y.ns}`).toBe(r.sent);
    }
    const rx = await nodes[1]!.metric('overlayd_udp_packets_total{direction="rx"}');
    expect(rx).toBeGreaterThan(40_000);
    for (const n of nodes)
      for (const reason of ['bad_tag', 'replayed_counter', 'unknown_receiver_index', 'disallowed_source'])
        expect(await n.metric(`overlayd_udp_drops_total{direction="rx",reason="${reason}"}`), reason).toBe(0);
    const types = wireguardTypes((await capture.stop()).frames);
    expect(types.size).toBeGreaterThan(0);
    expect(
      [...types.keys()].every((t) => t >= 1 && t <= 4),
      JSON.stringify([...types]),
    ).toBe(true);
    expect(types.get(4)).toBeGreaterThan(1000);
  }, 300_000);

  it('keeps its key across a restart: the same PublicKey in the new lease, and traffic resumes', async () => {
    const n = nodes[0]!;
    const before = (await leaseOf(n)).lease.BackendData!.PublicKey;
    await n.stopDaemon();
    await start(n);
    expect((await leaseOf(n)).lease.BackendData!.PublicKey).toBe(before);
    const [a, b] = pods as [Pod, Pod];
    // The peer still has the old session, whose indices we forgot: its packets on it are dropped
    // (unknown_receiver_index) until our first packet's handshake replaces it; pings may go until
    // then (as many as the handshake takes on this machine), none after.
    const resumed = await reachable(a, b).then(
      () => undefined,
      (e: Error) => e.message,
    );
    const dump = async () => {
      for (const m of nodes) {
        const out: string[] = [];
        for (const e of [
          'sessions',
          'handshakes_sent',
          'handshakes_received',
          'held',
          'keepalives_sent',
          'keepalives_received',
        ])
          out.push(`${e}=${await m.metric(`overlayd_wireguard_events_total{event="${e}"}`)}`);
        for (const d of [
          'unknown_receiver_index',
          'bad_tag',
          'replayed_counter',
          'handshake_replayed_initiation',
          'handshake_bad_mac1',
          'handshake_initiation_flood',
          'expired_session',
        ])
          out.push(`${d}=${await m.metric(`overlayd_udp_drops_total{direction="rx",reason="${d}"}`)}`);
        out.push(
          `no_session=${await m.metric('overlayd_udp_drops_total{direction="tx",reason="no_session"}')}`,
        );
        console.log(`node ${m.index}`, out.join(' '));
      }
    };
    const r2 = resumed === undefined ? await ping(b, a, 3) : { loss: 1 };
    if (resumed !== undefined || r2.loss > 0) await dump(); // what the data planes saw, for the failure report
    expect(resumed).toBeUndefined();
    expect(r2.loss).toBe(0);
  }, 120_000);
});
