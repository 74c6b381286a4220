/**
 * The hand-built reference the wireguard backend is tested and benched against: two flanneld-style
 * nodes on Debian's wireguard-go (test/lab/wireguard-go-node.ts). Checks that it really is what
 * flanneld programs (device, address, route, MTU, peers from the leases in etcd), that pods talk
 * over it encrypted, and that it leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';
import { sendKnownPayload } from './lab/known-payload.js';
import { transfer } from './lab/traffic.js';
import { UNDERLAY_FILTER, UnderlayCapture } from './lab/underlay-capture.js';
import { checkUnderlay, transportSizeFor } from './lab/underlay-check.js';
import { flannelWgRoute, WG_DEVICE, WireguardGoNode } from './lab/wireguard-go-node.js';

/** The underlay minus what is not overlay traffic: ARP, IPv6 neighbour discovery, etcd, health checks. */

let lab: Lab;
let wgs: WireguardGoNode[] = [];
let pods: Pod[] = [];

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  for (const [i, n] of lab.nodes.entries())
    wgs.push(await WireguardGoNode.start(n, { subnet: `10.244.${i + 1}.0/24`, persistentKeepalive: 25 }));
  for (const w of wgs) await w.writeLease();
  for (const w of wgs) await w.syncPeers();
  pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
}, 120_000);
afterAll(async () => {
  for (const w of wgs) await w.stop();
  await lab?.destroy();
});

describe('wireguard-go reference node', () => {
  it('programs flanneld wireguard state: device, /32 address, one Network route, MTU − 80', async () => {
    const [n1] = lab.nodes;
    const link = JSON.parse(await n1!.mustExec('ip', ['-j', 'link', 'show', WG_DEVICE])) as Array<{
      mtu: number;
      flags: string[];
    }>;
    expect(link[0]!.mtu).toBe(1420);
    expect(link[0]!.flags).toContain('UP');
    expect(await n1!.mustExec('ip', ['-4', '-o', 'addr', 'show', 'dev', WG_DEVICE])).toContain(
      'inet 10.244.1.0/32',
    );
    const routes = JSON.parse(await n1!.mustExec('ip', ['-d', '-j', 'route', 'show', 'dev', WG_DEVICE]));
    expect(routes).toEqual([flannelWgRoute('10.244.0.0/16')]);
    expect((await n1!.subnetEnv())['FLANNEL_MTU']).toBe('1420');
  });

  it('writes the lease in flanneld format and takes its peers from the leases', async () => {
    const c = lab.client();
    try {
      const v = JSON.parse((await c.get(wgs[1]!.leaseKey).string())!) as Record<string, unknown>;
      expect(v).toEqual({
        PublicIP: lab.nodes[1]!.ip,
        PublicIPv6: null,
        BackendType: 'wireguard',
        BackendData: { PublicKey: wgs[1]!.publicKey, Port: 51820 },
      });
    } finally {
      c.close();
    }
    const peers = await wgs[0]!.peers();
    expect(peers).toHaveLength(1);
    expect(peers[0]).toMatchObject({
      publicKey: wgs[1]!.publicKey,
      endpoint: `${lab.nodes[1]!.ip}:51820`,
      allowedIps: '10.244.2.0/24',
      persistentKeepalive: '25',
    });
  });

  it('carries pod traffic both ways and shows a handshake', async () => {
    const [a, b] = pods as [Pod, Pod];
    // The claim is reachability: the first probes wait out ARP and the handshake.
    await reachable(a, b);
    expect((await ping(a, b, 3)).loss).toBe(0);
    expect((await ping(b, a, 3)).loss).toBe(0);
    const t = await transfer(a, b, 8);
    expect(t.received).toBe(t.sent);
    for (const w of wgs) expect((await w.peers())[0]!.latestHandshake).toBeGreaterThan(0);
  }, 120_000);

  it('puts only WireGuard messages on the underlay, none holding the inner payload (the check itself, on the reference)', async () => {
    const [n1, n2] = lab.nodes as [(typeof lab.nodes)[0], (typeof lab.nodes)[0]];
    const payload = randomBytes(1200);
    const cap = await UnderlayCapture.start(n1.ns, lab.dir, UNDERLAY_FILTER);
    const arrived = await sendKnownPayload(pods[0]!, pods[1]!, payload, 50);
    const found = checkUnderlay(
      await cap.stop(),
      { ip: n1.ip, port: 51820 },
      { ip: n2.ip, port: 51820 },
      payload,
    );
    expect(arrived).toBeGreaterThan(40);
    expect(found.strays).toEqual([]);
    expect(found.leaks).toEqual([]);
    expect(found.transportSizes['a>b']!.get(transportSizeFor(20 + 8 + 1200)) ?? 0).toBeGreaterThanOrEqual(
      arrived,
    );
  }, 60_000);

  it('drops a peer whose lease is gone', async () => {
    await wgs[1]!.deleteLease();
    expect(await wgs[0]!.syncPeers()).toEqual([]);
    expect(await wgs[0]!.peers()).toEqual([]);
    await wgs[1]!.writeLease();
    await wgs[0]!.syncPeers();
    // The re-added peer has no session yet: the first probes wait out its handshake.
    await reachable(pods[0]!, pods[1]!);
    expect((await ping(pods[0]!, pods[1]!, 3)).loss).toBe(0);
  }, 60_000);

  it('leaves no process and no UAPI socket on the host once stopped', async () => {
    const pid = wgs[0]!.pid;
    await wgs[0]!.stop();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(`/var/run/wireguard/${WG_DEVICE}.sock`)).toBe(false);
    expect((await lab.nodes[0]!.exec('ip', ['link', 'show', WG_DEVICE])).code).not.toBe(0);
  });
});
