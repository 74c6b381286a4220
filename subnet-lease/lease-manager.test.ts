/**
 * The lease manager's control flow against an in-memory registry and an injected sleep: what it
 * does when etcd fails at each step (the etcd behaviour itself is covered by test/lease.e2e.ts).
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCidr, parseIpv4, type Ipv4Net } from '../core/ipv4.js';
import type { Lease, LeaseAttrs } from '../core/lease.js';
import { subnetKeyOf } from '../core/subnet-key.js';
import { LeaseManager } from './lease-manager.js';
import type { LeaseRegistry, LeaseWatchHandlers, RegistryWatch } from './lease-registry.js';
import { parseNetworkConfig } from './network-config.js';
import { testLogger } from '../test/support/log.js';

class FakeWatcher extends EventEmitter {
  cancelled = false;
  async cancel(): Promise<void> {
    this.cancelled = true;
  }
}

/** One etcd's worth of lease keys, with failures scripted per call. */
class FakeRegistry {
  readonly keys = new Map<string, { lease: Lease }>();
  readonly alive = new Set<string>();
  readonly calls: string[] = [];
  readonly watchers: FakeWatcher[] = [];
  /** Each call pops one entry: an Error to throw, or undefined to answer. */
  readonly failLeaseAlive: (Error | undefined)[] = [];
  readonly failWatch: (Error | undefined)[] = [];
  private nextId = 1;
  onList: () => void = () => undefined;

  keyOf(subnet: Ipv4Net): string {
    return `/coreos.com/network/subnets/${subnetKeyOf(subnet)}`;
  }
  async listLeases() {
    this.calls.push('list');
    this.onList();
    return { leases: [...this.keys.values()].map((k) => k.lease), malformed: [], revision: 1n };
  }
  async getLease(subnet: Ipv4Net) {
    this.calls.push('get');
    const k = this.keys.get(this.keyOf(subnet));
    return k ? ({ ok: true, lease: k.lease } as const) : undefined;
  }
  private put(subnet: Ipv4Net, attrs: LeaseAttrs): Lease {
    const id = String(this.nextId++);
    this.alive.add(id);
    const lease = { subnet, attrs, expiration: new Date(Date.now() + 86_400_000), etcdLeaseId: id };
    this.keys.set(this.keyOf(subnet), { lease });
    return lease;
  }
  async createLease(subnet: Ipv4Net, attrs: LeaseAttrs) {
    this.calls.push('create');
    return this.keys.has(this.keyOf(subnet)) ? undefined : this.put(subnet, attrs);
  }
  async updateLease(subnet: Ipv4Net, attrs: LeaseAttrs) {
    this.calls.push('update');
    return this.put(subnet, attrs);
  }
  async deleteLease(subnet: Ipv4Net) {
    this.keys.delete(this.keyOf(subnet));
  }
  async leaseAlive(id: string) {
    this.calls.push('alive');
    const e = this.failLeaseAlive.shift();
    if (e) throw e;
    return this.alive.has(id);
  }
  /** A watch of one key whose events the test emits on the FakeWatcher. */
  async watchLease(_subnet: Ipv4Net, h: LeaseWatchHandlers): Promise<RegistryWatch> {
    const e = this.failWatch.shift();
    if (e) throw e;
    const w = new FakeWatcher();
    w.on('delete', () => h.onDelete());
    w.on('error', (err: Error) => h.onError(err));
    this.watchers.push(w);
    return w;
  }
}

const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
const attrs = { publicIp: parseIpv4('198.18.0.1')! };

function setup(): { reg: FakeRegistry; m: LeaseManager; delays: number[] } {
  const reg = new FakeRegistry();
  const delays: number[] = [];
  const m = new LeaseManager({
    registry: reg as unknown as LeaseRegistry,
    config: cfg,
    attrs,
    log: testLogger(),
    previousSubnet: parseCidr('10.244.5.0/24')!,
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
  return { reg, m, delays };
}

/** Lets every queued promise callback run (the fake answers without I/O). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

afterEach(() => {
  vi.useRealTimers();
});

describe('revocation', () => {
  it('does not shut down while etcd cannot say whether our lease expired; asks again with backoff', async () => {
    const { reg, m, delays } = setup();
    const lease = await m.acquire();
    await m.keepAlive();
    const revoked = vi.fn();
    const errors: string[] = [];
    m.on('revoked', revoked);
    m.on('etcd-error', (op) => errors.push(op));
    reg.failLeaseAlive.push(new Error('etcd unavailable'), new Error('etcd unavailable'));
    reg.keys.delete(reg.keyOf(lease.subnet));
    reg.watchers.at(-1)!.emit('delete');
    await settle();
    expect(errors).toEqual(['revocation-check', 'revocation-check']);
    expect(delays).toEqual([100, 200]);
    // etcd answered on the third try: our etcd lease is alive, so the DELETE was deliberate.
    expect(revoked).toHaveBeenCalledTimes(1);
    await m.stop();
  });

  it('takes the lease back, not shutting down, when etcd then says our lease expired', async () => {
    const { reg, m } = setup();
    const lease = await m.acquire();
    await m.keepAlive();
    const revoked = vi.fn();
    m.on('revoked', revoked);
    reg.failLeaseAlive.push(new Error('etcd unavailable'));
    reg.alive.delete(lease.etcdLeaseId!);
    reg.keys.delete(reg.keyOf(lease.subnet));
    reg.watchers.at(-1)!.emit('delete');
    await settle();
    expect(revoked).not.toHaveBeenCalled();
    expect(reg.keys.get(reg.keyOf(lease.subnet))?.lease.attrs).toEqual(attrs);
    await m.stop();
  });
});

describe('the watch of our key', () => {
  it('is re-armed with backoff after a failed re-arm, each failure counted', async () => {
    const { reg, m, delays } = setup();
    await m.acquire();
    await m.keepAlive();
    const errors: string[] = [];
    m.on('etcd-error', (op) => errors.push(op));
    reg.failWatch.push(new Error('etcd unavailable'), new Error('etcd unavailable'));
    reg.watchers[0]!.emit('error', new Error('watch cancelled'));
    await settle();
    expect(errors).toEqual(['watch', 'watch']);
    expect(delays).toEqual([100, 200, 400]);
    expect(reg.watchers).toHaveLength(2);
    expect(reg.watchers[0]!.cancelled).toBe(true);
    await m.stop();
    expect(reg.watchers[1]!.cancelled).toBe(true);
  });

  it('keeps trying in the background when etcd refuses the first watch', async () => {
    const { reg, m, delays } = setup();
    await m.acquire();
    reg.failWatch.push(new Error('etcd unavailable'));
    await m.keepAlive();
    await settle();
    expect(delays).toEqual([100]);
    expect(reg.watchers).toHaveLength(1);
    await m.stop();
  });
});

describe('keepAlive', () => {
  it('arms one timer and one watch however often it is called, and stop clears them all', async () => {
    vi.useFakeTimers();
    const { reg, m } = setup();
    await m.acquire();
    await m.keepAlive();
    await m.keepAlive();
    expect(reg.watchers).toHaveLength(1);
    await m.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('acquire with a stop signal', () => {
  it('writes nothing when the stop came first', async () => {
    const { reg, m } = setup();
    const c = new AbortController();
    c.abort();
    await expect(m.acquire(c.signal)).rejects.toThrow(/abort/i);
    expect(reg.calls).toEqual([]);
  });

  it('takes no lease when the stop arrives while etcd lists the leases', async () => {
    const { reg, m } = setup();
    const c = new AbortController();
    reg.onList = () => c.abort();
    await expect(m.acquire(c.signal)).rejects.toThrow(/abort/i);
    expect(reg.calls).toEqual(['list']);
    expect(reg.keys.size).toBe(0);
  });
});
