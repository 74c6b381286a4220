/**
 * The registry's watch streams report TLS failures as the same one-line cause as every other etcd
 * call: the `explain` of a real createEtcdClient (TLS files made by openssl) applied to the errors
 * etcd3's watcher emits. etcd3's client is replaced by a stand-in that hands back a watcher we can
 * make emit; no etcd is needed.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa, type CertFiles } from '../test/lab/certs.js';
import { createEtcdClient, EtcdAccessError, type EtcdClientSetup } from './etcd-client.js';
import { EtcdRegistry } from './registry.js';

// Raw texts as grpc-js 1.14 / Node 20 produced them against the lab's members (etcd-errors.test.ts).
const UNKNOWN_CA =
  '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ';
const REFUSED =
  '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 198.18.44.101:2379 (2026-12-01T22:31:06.621Z). Resolution note: ';

/** etcd3's watch builder chain, ending in a watcher the test makes emit. */
function fakeClient(): { client: Etcd3; watcher: EventEmitter & { cancel(): Promise<void> } } {
  const watcher = Object.assign(new EventEmitter(), { cancel: async () => undefined });
  const builder = {
    prefix: () => builder,
    key: () => builder,
    startRevision: () => builder,
    create: async () => watcher,
  };
  return { client: { watch: () => builder } as unknown as Etcd3, watcher };
}

let dir: string;
let files: CertFiles & { ca: string };
let setup: EtcdClientSetup;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'overlayd-registry-watch-'));
  const ca = await TestCa.create(join(dir, 'ca'));
  files = { ...(await ca.issue(dir, 'node', { cn: 'node1', usage: 'client' })), ca: ca.cert };
  setup = createEtcdClient({
    endpoints: ['https://127.0.0.1:2379'],
    cafile: files.ca,
    certfile: files.cert,
    keyfile: files.key,
  });
}, 60_000); // openssl runs; slow only when the machine is busy
afterAll(async () => {
  setup?.client.close();
  await rm(dir, { recursive: true, force: true });
});

describe('EtcdRegistry watches', () => {
  it("pass a subnets watch's TLS disconnect and stream error through explain: the one-line cause", async () => {
    const { client, watcher } = fakeClient();
    const registry = new EtcdRegistry(client, '/coreos.com/network', setup.explain);
    const seen: { how: string; err: Error }[] = [];
    await registry.watchSubnets(1n, {
      onChanges: () => undefined,
      onCompacted: () => undefined,
      onError: (err) => seen.push({ how: 'error', err }),
      onDisconnected: (err) => seen.push({ how: 'disconnected', err }),
      onConnected: () => undefined,
    });
    const raw = new Error(UNKNOWN_CA);
    watcher.emit('disconnected', raw);
    watcher.emit('error', raw);
    expect(seen.map((s) => s.how)).toEqual(['disconnected', 'error']);
    for (const { err } of seen) {
      expect(err).toBeInstanceOf(EtcdAccessError);
      expect((err as EtcdAccessError).kind).toBe('tls-unknown-ca');
      expect(err.message).toBe(
        `TLS to etcd: the member's certificate is not signed by the CA in --etcd-cafile ${files.ca} (unable to verify the first certificate); give the CA that issued the etcd members' certificates (their --trusted-ca-file)`,
      );
      expect((err as EtcdAccessError).etcdError).toBe(raw);
    }
  });

  it("pass a lease watch's TLS error through explain", async () => {
    const { client, watcher } = fakeClient();
    const registry = new EtcdRegistry(client, '/coreos.com/network', setup.explain);
    const seen: Error[] = [];
    await registry.watchLease(
      { subnet: { ip: 0x0af40100, prefixLen: 24 } },
      { onDelete: () => undefined, onPut: () => undefined, onError: (err) => seen.push(err) },
    );
    watcher.emit('error', new Error(UNKNOWN_CA));
    expect(seen).toHaveLength(1);
    expect((seen[0] as EtcdAccessError).kind).toBe('tls-unknown-ca');
  });

  it("keep etcd's own error for what is not TLS or auth (an unreachable member)", async () => {
    const { client, watcher } = fakeClient();
    const registry = new EtcdRegistry(client, '/coreos.com/network', setup.explain);
    const seen: Error[] = [];
    await registry.watchSubnets(1n, {
      onChanges: () => undefined,
      onCompacted: () => undefined,
      onError: (err) => seen.push(err),
      onDisconnected: (err) => seen.push(err),
      onConnected: () => undefined,
    });
    const raw = new Error(REFUSED);
    watcher.emit('disconnected', raw);
    expect(seen).toEqual([raw]);
    expect(seen[0]).toBe(raw);
  });
});
