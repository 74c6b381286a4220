/**
 * Dual-stack (EnableIPv6) end to end with the alloc backend: real etcd, overlayd in three node
 * namespaces with a ULA IPv6 underlay. Checks what flanneld v0.28 peers and the flannel CNI plugin
 * read: one <v4>&<v6> key per node, PublicIPv6 in the value, FLANNEL_IPV6_* in subnet.env, both
 * subnets kept across restarts, and single-stack leases beside dual-stack ones in the peer set.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLeaseKey } from '../core/subnet-key.js';
import { Lab } from './lab/lab.js';

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 3,
    networkConfig: {
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: 'fd00:10:244::/56',
      Backend: { Type: 'alloc' },
    },
  });
  await Promise.all(lab.nodes.map((n) => n.startDaemon()));
});
afterAll(async () => {
  await lab?.destroy();
});

async function leasesInEtcd(): Promise<Map<string, string>> {
  const c = lab.client();
  try {
    const res = await c.getAll().prefix(`${lab.prefix}/subnets/`).exec();
    return new Map(
      res.kvs.map((kv) => [kv.key.toString().slice(`${lab.prefix}/subnets/`.length), kv.value.toString()]),
    );
  } finally {
    c.close();
  }
}

/** The etcd key tail a node's subnet.env names: FLANNEL_SUBNET and FLANNEL_IPV6_SUBNET back to network form. */
const keyOfEnv = (env: Record<string, string>): string =>
  `${env['FLANNEL_SUBNET']!.replace(/\.1\/24$/, '.0-24')}&${env['FLANNEL_IPV6_SUBNET']!.replace(/::1\/64$/, '::-64')}`;

describe('overlayd dual-stack (alloc backend, three nodes)', () => {
  it('writes one <v4>&<v6> key per node with its PublicIPv6, and subnet.env in flannel order', async () => {
    const leases = await leasesInEtcd();
    expect(leases.size).toBe(3);
    const v6 = new Set<string>();
    for (const n of lab.nodes) {
      const env = await n.subnetEnv();
      expect(Object.keys(env)).toEqual([
        'FLANNEL_NETWORK',
        'FLANNEL_SUBNET',
        'FLANNEL_IPV6_NETWORK',
        'FLANNEL_IPV6_SUBNET',
        'FLANNEL_MTU',
        'FLANNEL_IPMASQ',
      ]);
      expect(env['FLANNEL_IPV6_NETWORK']).toBe('fd00:10:244::/56');
      expect(env['FLANNEL_IPV6_SUBNET']).toMatch(/^fd00:10:244:[0-9a-f]{1,2}::1\/64$/);
      const key = keyOfEnv(env);
      expect(parseLeaseKey(key).ok).toBe(true);
      expect(leases.get(key)).toBe(`{"PublicIP":"${n.ip}","PublicIPv6":"${n.ip6}","BackendType":"alloc"}`);
      v6.add(env['FLANNEL_IPV6_SUBNET']!);
    }
    expect(v6.size).toBe(3);
  });

  it('keeps both subnets across SIGTERM, and across kill -9 without its subnet.env (reuse by PublicIP)', async () => {
    const n = lab.nodes[1]!;
    const before = keyOfEnv(await n.subnetEnv());
    expect(await n.stopDaemon('SIGTERM')).toBe(0);
    await n.startDaemon();
    expect(keyOfEnv(await n.subnetEnv())).toBe(before);
    await n.stopDaemon('SIGKILL');
    await rm(n.subnetFile);
    await n.startDaemon();
    expect(keyOfEnv(await n.subnetEnv())).toBe(before);
    expect((await leasesInEtcd()).size).toBe(3);
  });

  it('takes a single-stack lease written by hand as a peer beside the dual-stack ones; a bad IPv6 key part is counted', async () => {
    const c = lab.client();
    try {
      await c
        .put(`${lab.prefix}/subnets/10.244.250.0-24`)
        .value('{"PublicIP":"198.18.0.201","PublicIPv6":null,"BackendType":"alloc"}')
        .exec();
      await c
        .put(`${lab.prefix}/subnets/10.244.251.0-24&fd00:10:244:zz::-64`)
        .value('{"PublicIP":"198.18.0.202","PublicIPv6":"fd00::2","BackendType":"alloc"}')
        .exec();
      const n = lab.nodes[0]!;
      await expect.poll(() => n.metric('overlayd_peers'), { timeout: 20_000 }).toBe(3);
      await expect
        .poll(() => n.metric('overlayd_malformed_entries_skipped_total'), { timeout: 20_000 })
        .toBe(1);
      await n.waitForLogs((l) => l['msg'] === 'peer added' && l['subnet'] === '10.244.250.0/24');
      const bad = await n.waitForLogs((l) => l['msg'] === 'skipping malformed entry under subnets/');
      expect(bad).toHaveLength(1);
      expect(String(bad[0]!['reason'])).toMatch(/IPv6 part of the key/);
      await c.delete().key(`${lab.prefix}/subnets/10.244.250.0-24`).exec();
      await expect.poll(() => n.metric('overlayd_peers'), { timeout: 20_000 }).toBe(2);
    } finally {
      c.close();
    }
  });
});
