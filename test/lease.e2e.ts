/**
 * The lease contract against a real etcd: concurrent acquisition, reuse, previous subnet.env,
 * SubnetMin/Max, exhaustion, renewal, revocation and flanneld interop.
 */
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatCidr, overlaps, parseCidr, parseIpv4 } from '../core/ipv4.js';
import { parseSubnetKey } from '../core/subnet-key.js';
import { LeaseManager } from '../subnet-lease/lease-manager.js';
import type { NetworkConfig } from '../core/network.js';
import { parseNetworkConfig } from '../subnet-lease/network-config.js';
import { EtcdRegistry } from '../subnet-lease/registry.js';
import { EtcdServer } from './lab/etcd-server.js';
import { testLogger } from './support/log.js';

let etcd: EtcdServer;
let client: Etcd3;
let registry: EtcdRegistry;
const log = testLogger();
const prefix = '/coreos.com/network';

beforeAll(async () => {
  etcd = await EtcdServer.start();
  client = etcd.client();
  registry = new EtcdRegistry(client, prefix);
});
afterAll(async () => {
  client?.close();
  await etcd?.stop();
});
beforeEach(async () => {
  await client.delete().all().exec();
});

const nodeIp = (i: number): number => parseIpv4(`198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`)!;
function manager(
  cfg: NetworkConfig,
  i: number,
  extra: Partial<ConstructorParameters<typeof LeaseManager>[0]> = {},
): LeaseManager {
  return new LeaseManager({
    registry,
    config: cfg,
    attrs: { publicIp: nodeIp(i), backendType: 'host-gw' },
    log,
    ...extra,
  });
}

describe('lease acquisition', () => {
  it('gives 50 concurrent nodes 50 distinct, non-overlapping subnets inside SubnetMin..Max', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const leases = await Promise.all(Array.from({ length: 50 }, (_, i) => manager(cfg, i).acquire()));
    const keys = new Set(leases.map((l) => formatCidr(l.subnet)));
    expect(keys.size).toBe(50);
    for (let a = 0; a < leases.length; a++) {
      expect(leases[a]!.subnet.ip).toBeGreaterThanOrEqual(cfg.subnetMin);
      expect(leases[a]!.subnet.ip).toBeLessThanOrEqual(cfg.subnetMax);
      for (let b = a + 1; b < leases.length; b++)
        expect(overlaps(leases[a]!.subnet, leases[b]!.subnet)).toBe(false);
    }
    const listing = await registry.listLeases();
    expect(listing.leases).toHaveLength(50);
  });

  it('fills a network of exactly 50 subnets under contention, then reports exhaustion with the size', async () => {
    const cfg = parseNetworkConfig(
      '{"Network":"10.244.0.0/16","SubnetMin":"10.244.1.0","SubnetMax":"10.244.50.0"}',
    );
    const results = await Promise.allSettled(Array.from({ length: 51 }, (_, i) => manager(cfg, i).acquire()));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(50);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason.code).toBe('OUT_OF_SUBNETS');
    expect(failed[0]!.reason.message).toMatch(/network 10.244.0.0\/16 holds 50 \/24 subnets/);
    expect((await registry.listLeases()).leases).toHaveLength(50);
  });

  it('returns the same subnet to a restarted node (reuse by PublicIP)', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const first = await manager(cfg, 7).acquire();
    await manager(cfg, 8).acquire();
    const again = await manager(cfg, 7).acquire();
    expect(formatCidr(again.subnet)).toBe(formatCidr(first.subnet));
    expect((await registry.listLeases()).leases).toHaveLength(2);
  });

  it('honours the previous subnet.env subnet when it is free', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const l = await manager(cfg, 1, { previousSubnet: parseCidr('10.244.77.0/24')! }).acquire();
    expect(formatCidr(l.subnet)).toBe('10.244.77.0/24');
  });

  it('deletes our lease when it no longer fits the config, and allocates a fitting one', async () => {
    await manager(parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetLen":25}'), 3).acquire();
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const l = await manager(cfg, 3).acquire();
    expect(l.subnet.prefixLen).toBe(24);
    const listing = await registry.listLeases();
    expect(listing.leases.map((x) => formatCidr(x.subnet))).toEqual([formatCidr(l.subnet)]);
  });

  it('writes flannel-format keys and values attached to a 24 h etcd lease', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const l = await manager(cfg, 0).acquire();
    const res = await client.getAll().prefix(`${prefix}/subnets/`).exec();
    expect(res.kvs).toHaveLength(1);
    const kv = res.kvs[0]!;
    expect(parseSubnetKey(kv.key.toString())).toEqual(l.subnet);
    expect(kv.value.toString()).toBe('{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}');
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: kv.lease });
    expect(Number(ttl.grantedTTL)).toBe(86400);
  });

  it('reads a lease written the way flanneld writes it as a peer, and skips garbage with a reason', async () => {
    await client
      .put(`${prefix}/subnets/10.244.9.0-24`)
      .value(
        '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
      )
      .exec();
    await client.put(`${prefix}/subnets/10.244.10.0-24`).value('garbage').exec();
    await client.put(`${prefix}/subnets/not-a-subnet`).value('{"PublicIP":"1.2.3.4"}').exec();
    const listing = await registry.listLeases();
    expect(listing.leases).toHaveLength(1);
    expect(listing.leases[0]!.attrs.backendData).toEqual({ VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' });
    expect(listing.malformed.map((m) => m.key).sort()).toEqual([
      `${prefix}/subnets/10.244.10.0-24`,
      `${prefix}/subnets/not-a-subnet`,
    ]);
  });
});

describe('a stop during acquisition', () => {
  it('leaves no lease in etcd when the stop came first, or arrived while etcd listed the leases', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const before = new AbortController();
    before.abort();
    await expect(manager(cfg, 1).acquire(before.signal)).rejects.toThrow(/abort/i);
    // acquire() has sent its listing request when it returns the promise; the stop lands before
    // etcd's answer can, so the create must not follow.
    const during = new AbortController();
    const pending = manager(cfg, 2).acquire(during.signal);
    during.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    expect((await registry.listLeases()).leases).toEqual([]);
  });
});

describe('lease keep-alive', () => {
  it('renews at expiry minus the margin with a fresh etcd lease', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    // Test seam: a 4 s TTL renewed 3 s before expiry. The CLI cannot set a TTL.
    const m = manager(cfg, 1, { ttlSeconds: 4, renewMarginSeconds: 3 });
    const l = await m.acquire();
    const before = (await client.get(registry.keyOf(l.subnet)).exec()).kvs[0]!.lease;
    const renewed = new Promise((r) => m.once('renewed', r));
    await m.keepAlive();
    await renewed;
    const after = (await client.get(registry.keyOf(l.subnet)).exec()).kvs[0]!.lease;
    expect(after).not.toBe(before);
    await m.stop();
  });

  it('announces revocation when someone deletes our key', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const m = manager(cfg, 1);
    const l = await m.acquire();
    await m.keepAlive();
    const revoked = new Promise((r) => m.once('revoked', () => r(true)));
    await client.delete().key(registry.keyOf(l.subnet)).exec();
    expect(await revoked).toBe(true);
    await m.stop();
  });

  it('writes the lease back after etcd lost it, and reports a conflict when another node took the subnet', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    const m = manager(cfg, 1);
    const l = await m.acquire();
    // Data loss: the key vanishes without a watch event reaching us (no keepAlive watch here).
    await client.delete().key(registry.keyOf(l.subnet)).exec();
    await m.check();
    expect((await registry.getLease(l.subnet))?.ok).toBe(true);
    // Another node took the subnet while we were away.
    await client.put(registry.keyOf(l.subnet)).value('{"PublicIP":"198.18.9.9","PublicIPv6":null}').exec();
    const conflict = new Promise<{ holder: number }>((r) => m.once('conflict', r));
    await m.check();
    expect((await conflict).holder).toBe(parseIpv4('198.18.9.9'));
    // and we did not overwrite it
    const entry = await registry.getLease(l.subnet);
    expect(entry?.ok && entry.lease.attrs.publicIp).toBe(parseIpv4('198.18.9.9'));
    await m.stop();
  });
});
