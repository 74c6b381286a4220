/**
 * Acquires this node's subnet lease and keeps it: renew at expiry minus the margin, check the key
 * periodically (an etcd that lost its data gets our lease written back with the same subnet), and
 * watch it (a DELETE by someone else means an operator revoked us: flannel shuts down).
 *
 * Unlike flanneld, a lost create race is retried with a fresh pick, and a renewal never overwrites a
 * subnet that another node took while we were away: that is reported as a conflict instead. Only a
 * DELETE that etcd confirms (our etcd lease still alive, so it did not just expire) is a revocation:
 * while etcd cannot answer we keep asking, with backoff, and never shut down on a guess.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { OverlaydError, describeError } from '../core/errors.js';
import { planAllocation } from './allocate.js';
import { Backoff, realSleep, type Sleep } from './backoff.js';
import { formatCidr, formatIpv4, type Ipv4Net } from '../core/ipv4.js';
import type { Lease, LeaseAttrs } from '../core/lease.js';
import type { NetworkConfig } from '../core/network.js';
import { encodeLeaseAttrs } from './lease.js';
import { subnetCount } from './network-config.js';
import { SUBNET_TTL_SECONDS, type LeaseRegistry, type RegistryWatch } from './lease-registry.js';

/** flannel's raceRetries. */
export const MAX_RACE_RETRIES = 10;

export interface LeaseManagerOptions {
  readonly registry: LeaseRegistry;
  readonly config: NetworkConfig;
  readonly attrs: LeaseAttrs;
  /** FLANNEL_SUBNET from the previous subnet.env, if any. */
  readonly previousSubnet?: Ipv4Net;
  readonly log: Logger;
  readonly ttlSeconds?: number;
  readonly renewMarginSeconds?: number;
  /** How long to wait before retrying a failed renewal (flannel: 1 min). */
  readonly renewRetryMs?: number;
  /** How often to check that our key still exists and is ours. */
  readonly checkIntervalMs?: number;
  readonly random?: () => number;
  /** Waits between retries of the watch and of the revocation check (injected by unit tests). */
  readonly sleep?: Sleep;
}

export interface LeaseManagerEvents {
  renewed: [Lease];
  /** Someone deleted our key: shut down (flannel behaviour). */
  revoked: [];
  /** Our subnet is held by another node; the daemon must re-acquire and tell the operator. */
  conflict: [{ subnet: Ipv4Net; holder: number }];
  'etcd-error': [string];
}

export class LeaseManager extends EventEmitter<LeaseManagerEvents> {
  private current: Lease | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private watcher: RegistryWatch | undefined;
  private stopped = false;
  private alive = false;
  private rewatching = false;
  private readonly halt = new AbortController();
  private readonly watchBackoff = new Backoff(100, 5000);
  private readonly sleep: Sleep;
  private readonly ttl: number;

  constructor(private readonly opts: LeaseManagerOptions) {
    super();
    this.ttl = opts.ttlSeconds ?? SUBNET_TTL_SECONDS;
    this.sleep = opts.sleep ?? realSleep;
  }

  get lease(): Lease | undefined {
    return this.current;
  }

  /**
   * One acquisition, with bounded retries of lost races. Throws OverlaydError OUT_OF_SUBNETS (the
   * caller retries with backoff), LEASE_RACE after too many lost races, or ETCD. When `signal`
   * aborts (the daemon is stopping), it throws the signal's reason before its next etcd write: a
   * stop never leaves behind a lease taken after it.
   */
  async acquire(signal?: AbortSignal): Promise<Lease> {
    const { registry, config, attrs, log } = this.opts;
    let previous = this.opts.previousSubnet;
    for (let attempt = 1; attempt <= MAX_RACE_RETRIES; attempt++) {
      signal?.throwIfAborted();
      const listing = await registry.listLeases();
      signal?.throwIfAborted();
      const plan = planAllocation(config, listing.leases, attrs.publicIp, previous, this.opts.random);
      if (plan.kind !== 'renew' && plan.deleteFirst) {
        log.info(
          { subnet: formatCidr(plan.deleteFirst) },
          'deleting our lease: it no longer fits the network config',
        );
        await registry.deleteLease(plan.deleteFirst);
        signal?.throwIfAborted();
      }
      if (plan.kind === 'renew') {
        this.current = await registry.updateLease(plan.subnet, attrs, this.ttl);
        log.info({ subnet: formatCidr(plan.subnet) }, 'reusing the lease that holds our public IP');
        return this.current;
      }
      if (plan.kind === 'exhausted') {
        throw new OverlaydError(
          'OUT_OF_SUBNETS',
          `out of subnets: network ${formatCidr(config.network)} holds ${subnetCount(config)} /${config.subnetLen} subnets ` +
            `(${formatIpv4(config.subnetMin)}..${formatIpv4(config.subnetMax)}) and all are leased; ` +
            'free a stale lease or widen Network/SubnetMin/SubnetMax',
        );
      }
      const created = await registry.createLease(plan.subnet, attrs, this.ttl);
      if (created) {
        this.current = created;
        log.info({ subnet: formatCidr(plan.subnet), source: plan.source, attempt }, 'acquired a new lease');
        return created;
      }
      log.info({ subnet: formatCidr(plan.subnet), attempt }, 'lost the race for a subnet; picking again');
      previous = undefined;
    }
    throw new OverlaydError(
      'LEASE_RACE',
      `lost the race for a subnet ${MAX_RACE_RETRIES} times in a row; will retry`,
    );
  }

  /**
   * Starts renewal, the periodic check and the watch of our own key; once per manager (a second
   * call is a no-op, never a second timer). Resolves after the first attempt to arm the watch;
   * if that failed, it is retried with backoff in the background (the periodic check covers the gap).
   */
  async keepAlive(): Promise<void> {
    if (this.alive || this.stopped) return;
    this.alive = true;
    this.scheduleRenew();
    this.checkTimer = setInterval(() => void this.check(), this.opts.checkIntervalMs ?? 30_000).unref();
    if (!(await this.tryWatch())) void this.rewatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    clearTimeout(this.renewTimer);
    clearInterval(this.checkTimer);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await w.cancel();
  }

  private scheduleRenew(delayMs?: number): void {
    clearTimeout(this.renewTimer);
    if (this.stopped || !this.current?.expiration) return;
    const margin = (this.opts.renewMarginSeconds ?? 3600) * 1000;
    const due = delayMs ?? Math.max(0, this.current.expiration.getTime() - margin - Date.now());
    // setTimeout caps at 2^31-1 ms; a 24 h lease with a tiny margin stays well below it.
    this.renewTimer = setTimeout(() => void this.renew(), Math.min(due, 2 ** 31 - 1)).unref();
  }

  /** Renews our lease: write it only if the key still holds our value or is gone. */
  async renew(): Promise<void> {
    const lease = this.current;
    if (!lease || this.stopped) return;
    try {
      const ok = await this.writeOwn(lease.subnet);
      if (ok) {
        this.opts.log.info(
          { subnet: formatCidr(lease.subnet), expiration: this.current?.expiration },
          'lease renewed',
        );
        this.emit('renewed', this.current!);
        this.scheduleRenew();
      }
    } catch (err) {
      this.emit('etcd-error', 'renew');
      this.opts.log.warn({ err: describeError(err) }, 'lease renewal failed; retrying');
      this.scheduleRenew(this.opts.renewRetryMs ?? 60_000);
    }
  }

  /**
   * Writes our lease for `subnet` unless another node holds the key. Returns false on conflict
   * (after emitting it).
   */
  private async writeOwn(subnet: Ipv4Net): Promise<boolean> {
    const { registry, attrs } = this.opts;
    const entry = await registry.getLease(subnet);
    if (entry === undefined) {
      const created = await registry.createLease(subnet, attrs, this.ttl);
      if (created) {
        this.current = created;
        this.opts.log.warn(
          { subnet: formatCidr(subnet) },
          'our lease key was missing in etcd (expired or etcd lost its data); wrote it back',
        );
        return true;
      }
      return this.writeOwn(subnet); // someone created it between get and txn: look again
    }
    if (entry.ok && entry.lease.attrs.publicIp !== attrs.publicIp) {
      this.emit('conflict', { subnet, holder: entry.lease.attrs.publicIp });
      return false;
    }
    // Ours (possibly with stale backend data, or garbled): put it back, as flannel's updateSubnet does.
    this.current = await registry.updateLease(subnet, attrs, this.ttl);
    return true;
  }

  /** The periodic check: cheap (one get), catches data loss and a subnet taken while we were away. */
  async check(): Promise<void> {
    const lease = this.current;
    if (!lease || this.stopped) return;
    try {
      const entry = await this.opts.registry.getLease(lease.subnet);
      const ours = entry?.ok && encodeLeaseAttrs(entry.lease.attrs) === encodeLeaseAttrs(this.opts.attrs);
      if (!ours) await this.writeOwn(lease.subnet);
    } catch (err) {
      this.emit('etcd-error', 'check');
      this.opts.log.debug({ err: describeError(err) }, 'lease check failed');
    }
  }

  /**
   * Our key is gone. If our etcd lease expired (we were partitioned past its TTL), that is not an
   * operator's decision: write the lease back, or report the conflict if the subnet is taken.
   * If the etcd lease is alive, someone deleted the key on purpose: shut down, as flanneld does.
   * Until etcd answers which it is, ask again with backoff: an etcd error is not a revocation.
   */
  private async onOwnKeyDeleted(key: string): Promise<void> {
    const id = this.current?.etcdLeaseId;
    const backoff = new Backoff(100, 5000);
    let alive: boolean | undefined;
    while (alive === undefined) {
      if (this.stopped) return;
      try {
        alive = id === undefined || (await this.opts.registry.leaseAlive(id));
      } catch (err) {
        this.emit('etcd-error', 'revocation-check');
        this.opts.log.warn(
          { key, err: describeError(err) },
          'our lease key was deleted, and etcd cannot tell yet whether our lease expired; asking again',
        );
        await this.sleep(backoff.next(), this.halt.signal);
      }
    }
    if (this.stopped) return;
    if (!alive) {
      this.opts.log.warn({ key }, 'our lease expired while etcd could not reach us; taking it back');
      await this.check();
      return;
    }
    this.opts.log.error({ key }, 'Lease has been revoked. Shutting down daemon.');
    this.emit('revoked');
  }

  /** One attempt to arm the watch of our key; false (logged, counted) when etcd refused. */
  private async tryWatch(): Promise<boolean> {
    try {
      await this.watchOwnKey();
      this.watchBackoff.reset();
      return true;
    } catch (err) {
      this.emit('etcd-error', 'watch');
      this.opts.log.warn({ err: describeError(err) }, 'cannot watch our lease key; retrying with backoff');
      return false;
    }
  }

  /** Re-arms the watch until it holds or the manager stops; one loop at a time. */
  private async rewatch(): Promise<void> {
    if (this.rewatching) return;
    this.rewatching = true;
    try {
      while (!this.stopped) {
        await this.sleep(this.watchBackoff.next(), this.halt.signal);
        if (this.stopped || (await this.tryWatch())) return;
      }
    } finally {
      this.rewatching = false;
    }
  }

  private async watchOwnKey(): Promise<void> {
    const lease = this.current;
    if (!lease) return;
    const key = this.opts.registry.keyOf(lease.subnet);
    let watcher: RegistryWatch | undefined;
    const current = (): boolean => !this.stopped && watcher !== undefined && this.watcher === watcher;
    watcher = await this.opts.registry.watchLease(lease.subnet, {
      onDelete: () => {
        if (current()) void this.onOwnKeyDeleted(key);
      },
      onPut: (d) => {
        if (!current()) return;
        if (d.ok && d.lease.attrs.publicIp !== this.opts.attrs.publicIp) {
          this.emit('conflict', { subnet: lease.subnet, holder: d.lease.attrs.publicIp });
        }
      },
      onError: () => {
        // Compaction or cancel: the periodic check covers the gap; re-arm, with backoff if etcd is down.
        if (current()) void this.rewatch();
      },
    });
    if (this.stopped) {
      await watcher.cancel();
      return;
    }
    const old = this.watcher;
    this.watcher = watcher;
    if (old) await old.cancel();
    this.opts.log.debug({ key }, 'watching our lease key');
  }
}
