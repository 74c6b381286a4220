/**
 * Watches the other nodes' leases: list <prefix>/subnets/, then watch from revision + 1.
 * On compaction, a cancelled watch, or a reconnect after an etcd outage (the server may have lost
 * its data and restarted its revisions), it re-lists and emits only the difference. While etcd is
 * unreachable it keeps the last known peers: the datapath is never told to drop anything.
 * When the backend fails to apply a batch, what it holds is unknown: after a backoff the watch
 * re-lists and hands it the whole peer set to reconcile with ('repair'), until that succeeds.
 */
import type { Logger } from 'pino';
import { describeError } from '../core/errors.js';
import type { Lease, LeaseEvent } from '../core/lease.js';
import { subnetKeyOf } from '../core/subnet-key.js';
import { Backoff, realSleep, type Sleep } from './backoff.js';
import { LeaseSet } from './lease-set.js';
import type { LeaseChange, LeaseRegistry, MalformedEntry, RegistryWatch } from './lease-registry.js';
import { sameNet, type Ipv4Net } from '../core/ipv4.js';

/**
 * How a batch of events came about: the first listing, a later re-list (diff), the live watch, or
 * a re-list after the backend failed to apply a batch (reconcile with the snapshot, not the diff).
 */
export type DeliveryKind = 'initial' | 'resync' | 'watch' | 'repair';

export interface PeerWatchHooks {
  /**
   * Called in etcd order; the backend applies each batch before the next arrives. For 'initial',
   * 'resync' and 'repair', `snapshot` is the complete peer set the events lead to. A throw
   * schedules a 'repair'.
   */
  onEvents(
    events: readonly LeaseEvent[],
    kind: DeliveryKind,
    snapshot?: readonly Lease[],
  ): Promise<void> | void;
  onMalformed?(entry: MalformedEntry): void;
  onResync?(reason: string): void;
  onEtcdError?(op: string): void;
  onConnectivity?(up: boolean): void;
}

export interface PeerWatchOptions {
  readonly registry: LeaseRegistry;
  readonly ownSubnet: () => Ipv4Net | undefined;
  /** Our PublicIP: a lease on another subnet claiming it is not a peer (it would route to ourselves). */
  readonly ownPublicIp?: number;
  /** Our PublicIPv6 (dual-stack): the same rule for the IPv6 datapath's peers. */
  readonly ownPublicIpv6?: bigint;
  /**
   * After etcd comes back without its data (revisions went backwards), peers are given this long
   * to re-register before their absence removes them from the datapath.
   */
  readonly dataLossGraceMs?: number;
  readonly hooks: PeerWatchHooks;
  readonly log: Logger;
  readonly maxBackoffMs?: number;
  /** Waits between repairs (injected by unit tests). */
  readonly sleep?: Sleep;
}

export class PeerWatch {
  private readonly set = new LeaseSet();
  private watcher: RegistryWatch | undefined;
  private stopped = false;
  private resyncing: Promise<void> | undefined;
  private pendingResync = false;
  /** Keys we already warned about, so a bad entry is logged once, not at every resync. */
  private readonly warned = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private connected = true;
  private backoffMs = 100;
  private delivered = false;
  /** Highest etcd revision seen; a listing below it means etcd restarted without its data. */
  private revision = 0n;
  private graceTimer: NodeJS.Timeout | undefined;
  /** The backend failed a batch: the next listing goes out as a 'repair'. */
  private repairPending = false;
  private repairScheduled = false;
  private readonly repairBackoff = new Backoff(500, 30_000);
  private readonly halt = new AbortController();
  private readonly sleep: Sleep;

  constructor(private readonly opts: PeerWatchOptions) {
    this.sleep = opts.sleep ?? realSleep;
  }

  peers(): Lease[] {
    return this.set.leases();
  }

  /** Lists and starts watching; resolves after the first snapshot was applied. Retries until etcd answers. */
  async start(): Promise<void> {
    await this.resync('start');
    await this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    clearTimeout(this.graceTimer);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await w.cancel();
    await this.queue;
  }

  private isOwn(lease: Lease): boolean {
    const own = this.opts.ownSubnet();
    return own !== undefined && sameNet(own, lease.subnet);
  }

  /** Leases that cannot be peers: ours, and others claiming our PublicIP or PublicIPv6 (counted as malformed). */
  private usable(lease: Lease, key: string): boolean {
    if (this.isOwn(lease)) return false;
    if (this.opts.ownPublicIp !== undefined && lease.attrs.publicIp === this.opts.ownPublicIp) {
      this.malformed({ key, reason: 'lease claims our PublicIP on another subnet' });
      return false;
    }
    if (this.opts.ownPublicIpv6 !== undefined && lease.attrs.publicIpv6 === this.opts.ownPublicIpv6) {
      this.malformed({ key, reason: 'lease claims our PublicIPv6 on another subnet' });
      return false;
    }
    return true;
  }

  private deliver(events: LeaseEvent[], kind: DeliveryKind, snapshot?: readonly Lease[]): void {
    if (events.length === 0 && kind !== 'initial' && kind !== 'repair') return;
    // Serialize delivery: a slow backend call must not let a later event overtake an earlier one.
    this.queue = this.queue.then(async () => {
      try {
        await this.opts.hooks.onEvents(events, kind, snapshot);
        if (kind === 'repair') this.repairBackoff.reset();
      } catch (err) {
        this.scheduleRepair(err, kind);
      }
    });
  }

  /** After a failed apply: re-list and reconcile, once per backoff, until a repair goes through. */
  private scheduleRepair(err: unknown, kind: DeliveryKind): void {
    this.repairPending = true;
    if (this.repairScheduled || this.stopped) return;
    this.repairScheduled = true;
    const delayMs = this.repairBackoff.next();
    this.opts.log.error(
      { err: describeError(err), kind, retryInMs: delayMs },
      'backend failed to apply lease events; re-listing the peers to reconcile it',
    );
    void this.sleep(delayMs, this.halt.signal).then(() => {
      this.repairScheduled = false;
      if (!this.stopped) void this.resync('apply-failed');
    });
  }

  private malformed(entry: MalformedEntry): void {
    this.opts.hooks.onMalformed?.(entry);
    if (this.warned.has(entry.key)) return;
    this.warned.add(entry.key);
    this.opts.log.warn({ key: entry.key, reason: entry.reason }, 'skipping malformed entry under subnets/');
  }

  /** Re-lists and restarts the watch; concurrent requests collapse into one extra pass. */
  resync(reason: string): Promise<void> {
    if (this.resyncing) {
      this.pendingResync = true;
      return this.resyncing;
    }
    this.resyncing = this.doResync(reason).finally(() => {
      this.resyncing = undefined;
      if (this.pendingResync && !this.stopped) {
        this.pendingResync = false;
        void this.resync('coalesced');
      }
    });
    return this.resyncing;
  }

  private async doResync(reason: string): Promise<void> {
    if (reason !== 'start') this.opts.hooks.onResync?.(reason);
    for (;;) {
      if (this.stopped) return;
      try {
        const listing = await this.opts.registry.listLeases();
        // etcd answered: say so before the listing's peers reach the backend and the metrics, so
        // nothing can observe the new peer set while overlayd_etcd_up still reads 0.
        this.setConnected(true);
        listing.malformed.forEach((m) => this.malformed(m));
        const peers = listing.leases.filter((l) => this.usable(l, this.opts.registry.keyOf(l)));
        const dataLoss = this.delivered && listing.revision < this.revision;
        this.revision = listing.revision;
        const events = this.set.reset(peers);
        if (dataLoss) {
          // Still pending if set: the grace period's re-list will carry the repair.
          this.holdRemovals(events);
        } else {
          const kind = this.repairPending ? 'repair' : this.delivered ? 'resync' : 'initial';
          this.repairPending = false;
          this.deliver(events, kind, peers);
        }
        this.delivered = true;
        await this.restartWatch(listing.revision + 1n);
        this.backoffMs = 100;
        return;
      } catch (err) {
        this.opts.hooks.onEtcdError?.('list');
        this.setConnected(false, err);
        await new Promise((r) => setTimeout(r, this.backoffMs).unref());
        this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5000);
      }
    }
  }

  /**
   * etcd came back empty (restored or wiped): every node is about to write its lease back. Apply
   * additions now; keep the peers that are missing for a grace period, then re-list.
   */
  private holdRemovals(events: LeaseEvent[]): void {
    const removed = events.filter((e) => e.type === 'removed');
    for (const e of removed) this.set.put(e.lease);
    this.deliver(
      events.filter((e) => e.type === 'added'),
      'resync',
    );
    const grace = this.opts.dataLossGraceMs ?? 30_000;
    this.opts.log.warn(
      { missingPeers: removed.length, graceSeconds: grace / 1000 },
      'etcd lost its data; keeping missing peers while nodes re-register',
    );
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => void this.resync('data-loss-grace'), grace);
    this.graceTimer.unref();
  }

  private setConnected(up: boolean, err?: unknown): void {
    if (up === this.connected) return;
    this.connected = up;
    this.opts.hooks.onConnectivity?.(up);
    if (up) this.opts.log.info('etcd reachable again; peer list re-listed');
    else
      this.opts.log.warn(
        { err: describeError(err) },
        'etcd unreachable; keeping the last known peers and retrying',
      );
  }

  private async restartWatch(fromRevision: bigint): Promise<void> {
    const old = this.watcher;
    this.watcher = undefined;
    if (old) await old.cancel();
    if (this.stopped) return;
    let watcher: RegistryWatch | undefined;
    // Events of a replaced or stopped watch are ignored: only the current one speaks.
    const current = (): boolean => watcher !== undefined && this.watcher === watcher;
    watcher = await this.opts.registry.watchSubnets(fromRevision, {
      onChanges: (changes, revision) => {
        if (current()) this.onWatchData(changes, revision);
      },
      onCompacted: () => {
        if (current()) void this.resync('compacted');
      },
      onError: (err) => {
        if (!current()) return;
        // A cancelled watch (compaction) or stream error: the event stream has a gap; re-list.
        const compacted = /compact/i.test(err.message);
        void this.resync(compacted ? 'compacted' : 'watch-error');
      },
      onDisconnected: (err) => {
        if (!current()) return;
        this.opts.hooks.onEtcdError?.('watch');
        this.setConnected(false, err);
      },
      onConnected: () => {
        // etcd3 resumes the stream by itself, but after an outage the server may be a new one with
        // fewer revisions: only a fresh listing is certain to be right.
        if (current() && !this.connected) void this.resync('reconnected');
      },
    });
    if (this.stopped) {
      await watcher.cancel();
      return;
    }
    this.watcher = watcher;
  }

  private onWatchData(changes: readonly LeaseChange[], revision: bigint): void {
    if (revision > this.revision) this.revision = revision;
    const events: LeaseEvent[] = [];
    for (const c of changes) {
      if (c.type === 'delete') {
        if (!c.subnet) continue;
        const e = this.set.delete(subnetKeyOf(c.subnet));
        if (e) events.push(e);
        continue;
      }
      if (!c.entry.ok) {
        this.malformed(c.entry.entry);
        continue;
      }
      if (!this.usable(c.entry.lease, c.key)) {
        // A peer whose new value is unusable (it now claims our address) is gone as a peer: the
        // old value must not stay in the datapath until the next re-list. Ours is never in the set.
        const gone = this.set.delete(subnetKeyOf(c.entry.lease.subnet));
        if (gone) events.push(gone);
        continue;
      }
      const e = this.set.put(c.entry.lease);
      if (e) events.push(e);
    }
    this.deliver(events, 'watch');
  }
}
