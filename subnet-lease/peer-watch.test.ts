/**
 * The peer watch's answer to a backend that fails to apply a batch, with the real registry over an
 * in-memory etcd client and an injected sleep (the etcd side is covered by test/peer-watch.e2e.ts).
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { formatCidr } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import type { LeaseEvent } from '../core/lease.js';
import { PeerWatch, type DeliveryKind } from './peer-watch.js';
import { EtcdRegistry } from './registry.js';
import { testLogger } from '../test/support/log.js';

const PREFIX = '/coreos.com/network';
const keyOf = (s: string): string => `${PREFIX}/subnets/${s}`;
const value = (ip: string): string => `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"host-gw"}`;

class FakeWatcher extends EventEmitter {
  async cancel(): Promise<void> {}
}

/** Just enough of etcd3's client for listLeases and a prefix watch. */
class FakeEtcd {
  readonly kv = new Map<string, string>();
  revision = 10;
  readonly watchers: FakeWatcher[] = [];
  getAll() {
    return {
      prefix: () => ({
        exec: async () => ({
          kvs: [...this.kv].map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v) })),
          header: { revision: String(this.revision) },
        }),
      }),
    };
  }
  watch() {
    const chain = {
      prefix: () => chain,
      startRevision: () => chain,
      create: async () => {
        const w = new FakeWatcher();
        this.watchers.push(w);
        return w;
      },
    };
    return chain;
  }
  /** A put as the live watch delivers it. */
  put(key: string, v: string): void {
    this.kv.set(key, v);
    this.revision++;
    this.watchers.at(-1)!.emit('data', {
      header: { revision: String(this.revision) },
      events: [{ type: 'Put', kv: { key: Buffer.from(key), value: Buffer.from(v) } }],
    });
  }
}

interface Delivery {
  kind: DeliveryKind;
  events: readonly LeaseEvent[];
  snapshot?: readonly Lease[];
}

function setup(failKinds: DeliveryKind[]) {
  const etcd = new FakeEtcd();
  etcd.kv.set(keyOf('10.244.1.0-24'), value('198.18.0.2'));
  const delays: number[] = [];
  const resyncs: string[] = [];
  const deliveries: Delivery[] = [];
  const watch = new PeerWatch({
    registry: new EtcdRegistry(etcd as unknown as Etcd3, PREFIX),
    ownSubnet: () => undefined,
    log: testLogger(),
    sleep: async (ms) => {
      delays.push(ms);
    },
    hooks: {
      onEvents: (events, kind, snapshot) => {
        deliveries.push({ kind, events, ...(snapshot ? { snapshot } : {}) });
        const i = failKinds.indexOf(kind);
        if (i >= 0) {
          failKinds.splice(i, 1);
          throw new Error(`backend refused a ${kind} batch`);
        }
      },
      onResync: (reason) => resyncs.push(reason),
    },
  });
  return { etcd, watch, delays, resyncs, deliveries };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
};
const subnets = (d: Delivery | undefined): string[] => (d?.snapshot ?? []).map((l) => formatCidr(l.subnet));

describe('a failed backend apply', () => {
  it('is repaired by a re-list that hands the backend the whole peer set, after a backoff', async () => {
    const { etcd, watch, delays, resyncs, deliveries } = setup(['watch']);
    await watch.start();
    etcd.put(keyOf('10.244.2.0-24'), value('198.18.0.3'));
    await settle();
    expect(deliveries.map((d) => d.kind)).toEqual(['initial', 'watch', 'repair']);
    expect(subnets(deliveries[2]).sort()).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
    expect(delays).toEqual([500]);
    expect(resyncs).toEqual(['apply-failed']);
    await watch.stop();
  });

  it('retries a failing repair with a growing backoff, which starts over once a repair succeeds', async () => {
    const { etcd, watch, delays, deliveries } = setup(['initial', 'repair', 'watch']);
    await watch.start();
    await settle();
    // initial failed → repair failed → repair succeeded
    expect(deliveries.map((d) => d.kind)).toEqual(['initial', 'repair', 'repair']);
    expect(delays).toEqual([500, 1000]);
    etcd.put(keyOf('10.244.3.0-24'), value('198.18.0.4'));
    await settle();
    expect(deliveries.map((d) => d.kind).slice(3)).toEqual(['watch', 'repair']);
    expect(delays).toEqual([500, 1000, 500]);
    await watch.stop();
  });
});

describe('a lease claiming one of our public addresses', () => {
  it('is not a peer, for either family, and is counted as malformed with the address named', async () => {
    const etcd = new FakeEtcd();
    const dual = (ip: string, ip6: string): string =>
      `{"PublicIP":"${ip}","PublicIPv6":"${ip6}","BackendType":"vxlan"}`;
    etcd.kv.set(keyOf('10.244.1.0-24&fd00:10:244:1::-64'), dual('198.18.0.2', 'fd00:198:18::2'));
    etcd.kv.set(keyOf('10.244.2.0-24&fd00:10:244:2::-64'), dual('198.18.0.3', 'fd00:198:18::9'));
    etcd.kv.set(keyOf('10.244.3.0-24&fd00:10:244:3::-64'), dual('198.18.0.9', 'fd00:198:18::4'));
    const reasons: string[] = [];
    const peers: string[] = [];
    const watch = new PeerWatch({
      registry: new EtcdRegistry(etcd as unknown as Etcd3, PREFIX),
      ownSubnet: () => undefined,
      ownPublicIp: ((198 << 24) | (18 << 16) | 9) >>> 0,
      ownPublicIpv6: 0xfd000198001800000000000000000009n,
      log: testLogger(),
      sleep: async () => {},
      hooks: {
        onEvents: (_events, _kind, snapshot) => {
          peers.push(...(snapshot ?? []).map((l) => formatCidr(l.subnet)));
        },
        onMalformed: (r) => reasons.push(r.reason),
      },
    });
    await watch.start();
    await settle();
    expect(peers).toEqual(['10.244.1.0/24']);
    expect(reasons.sort()).toEqual([
      'lease claims our PublicIP on another subnet',
      'lease claims our PublicIPv6 on another subnet',
    ]);
    await watch.stop();
  });
});

describe('a peer whose lease is rewritten to claim our PublicIP', () => {
  it('is removed from the peer set at once, not kept at its old value until a re-list', async () => {
    const etcd = new FakeEtcd();
    etcd.kv.set(keyOf('10.244.1.0-24'), value('198.18.0.2'));
    const deliveries: Array<{ kind: DeliveryKind; events: readonly LeaseEvent[] }> = [];
    const watch = new PeerWatch({
      registry: new EtcdRegistry(etcd as unknown as Etcd3, PREFIX),
      ownSubnet: () => undefined,
      ownPublicIp: ((198 << 24) | (18 << 16) | 9) >>> 0,
      log: testLogger(),
      sleep: async () => {},
      hooks: { onEvents: (events, kind) => void deliveries.push({ kind, events }) },
    });
    await watch.start();
    etcd.put(keyOf('10.244.1.0-24'), value('198.18.0.9'));
    await settle();
    expect(deliveries.map((d) => d.kind)).toEqual(['initial', 'watch']);
    expect(deliveries[1]!.events.map((e) => `${e.type} ${formatCidr(e.lease.subnet)}`)).toEqual([
      'removed 10.244.1.0/24',
    ]);
    expect(watch.peers()).toEqual([]);
    await watch.stop();
  });
});
