/**
 * The LeaseRegistry on etcd: flannel's keys under one prefix, read and written with the same
 * operations flanneld uses (prefix range, create-if-absent txn with a 24 h etcd lease, grant + put to
 * renew, delete, watch from a revision). The only file that talks to etcd3's client.
 */
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import { OverlaydError } from '../core/errors.js';
import type { Lease, LeaseAttrs } from '../core/lease.js';
import { leaseKeyOf, parseLeaseKey, parseSubnetKey, type LeaseSubnets } from '../core/subnet-key.js';
import { encodeLeaseAttrs, parseLeaseAttrs } from './lease.js';
import type {
  DecodedEntry,
  LeaseChange,
  LeaseListing,
  LeaseRegistry,
  LeaseWatchHandlers,
  MalformedEntry,
  RegistryWatch,
  SubnetsWatchHandlers,
} from './lease-registry.js';

export const DEFAULT_PREFIX = '/coreos.com/network';

/** A Lease passed as its subnets must not carry its old attrs into the new lease. */
function subnetsOnly(s: LeaseSubnets): LeaseSubnets {
  return s.ipv6Subnet ? { subnet: s.subnet, ipv6Subnet: s.ipv6Subnet } : { subnet: s.subnet };
}

function etcdError(what: string, err: unknown): OverlaydError {
  return new OverlaydError('ETCD', `etcd ${what} failed`, { cause: err });
}

/**
 * Turns an etcd3 error into the operator's line (createEtcdClient's `explain`): a TLS or auth
 * failure becomes its one-line cause, anything else stays as it is.
 */
export type ExplainEtcdError = (err: unknown) => unknown;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export class EtcdRegistry implements LeaseRegistry {
  readonly subnetsPrefix: string;

  /**
   * `explain` is applied to the watch streams' errors: they bypass the call policies that explain
   * every unary call's failure, so without it a TLS problem that shows up first (or again) on a
   * watch would reach the log as grpc-js's raw "No connection established" text.
   */
  constructor(
    private readonly client: Etcd3,
    readonly prefix: string = DEFAULT_PREFIX,
    private readonly explain: ExplainEtcdError = (err) => err,
  ) {
    this.subnetsPrefix = `${prefix.replace(/\/+$/, '')}/subnets/`;
  }

  get configKey(): string {
    return `${this.prefix.replace(/\/+$/, '')}/config`;
  }

  keyOf(subnets: LeaseSubnets): string {
    return this.subnetsPrefix + leaseKeyOf(subnets);
  }

  /** The raw config text, or undefined when the key does not exist (not an error: flannel polls). */
  async getConfigText(): Promise<string | undefined> {
    try {
      return (await this.client.get(this.configKey).string()) ?? undefined;
    } catch (err) {
      throw etcdError(`get ${this.configKey}`, err);
    }
  }

  /** Decodes one key/value under subnets/; malformed entries are reported, never thrown. */
  private decode(kv: IKeyValue): DecodedEntry {
    const key = kv.key.toString();
    const parsed = parseLeaseKey(key.slice(this.subnetsPrefix.length));
    if (!parsed.ok) return { ok: false, entry: { key, reason: parsed.reason } };
    try {
      const attrs = parseLeaseAttrs(kv.value.toString());
      // create_revision is what the IPv6 duplicate check orders by; a value without it is still a lease.
      const rev = kv.create_revision ? { createRevision: BigInt(kv.create_revision) } : {};
      return { ok: true, lease: { ...parsed.subnets, attrs, ...rev } };
    } catch (err) {
      return { ok: false, entry: { key, reason: (err as Error).message } };
    }
  }

  async listLeases(): Promise<LeaseListing> {
    let res;
    try {
      res = await this.client.getAll().prefix(this.subnetsPrefix).exec();
    } catch (err) {
      throw etcdError(`list ${this.subnetsPrefix}`, err);
    }
    const leases: Lease[] = [];
    const malformed: MalformedEntry[] = [];
    for (const kv of res.kvs) {
      const d = this.decode(kv);
      if (d.ok) leases.push(d.lease);
      else malformed.push(d.entry);
    }
    return { leases, malformed, revision: BigInt(res.header.revision) };
  }

  private async grant(ttlSeconds: number): Promise<string> {
    try {
      const res = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds });
      return String(res.ID);
    } catch (err) {
      throw etcdError('lease grant', err);
    }
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id });
    } catch {
      // The lease expires on its own; a failed revoke only delays that.
    }
  }

  /**
   * Creates the key only if it does not exist (txn on Version == 0), attached to a fresh etcd lease.
   * Returns undefined when another node won the race; the granted lease is then revoked.
   */
  async createLease(
    subnets: LeaseSubnets,
    attrs: LeaseAttrs,
    ttlSeconds: number,
  ): Promise<Lease | undefined> {
    const id = await this.grant(ttlSeconds);
    const key = this.keyOf(subnets);
    let succeeded: boolean;
    let revision: bigint;
    try {
      const res = await this.client
        .if(key, 'Version', '==', 0)
        .then(this.client.put(key).value(encodeLeaseAttrs(attrs)).lease(id))
        .commit();
      succeeded = res.succeeded;
      revision = BigInt(res.header.revision);
    } catch (err) {
      await this.revoke(id);
      throw etcdError(`create ${key}`, err);
    }
    if (!succeeded) {
      await this.revoke(id);
      return undefined;
    }
    return {
      ...subnetsOnly(subnets),
      attrs,
      expiration: new Date(Date.now() + ttlSeconds * 1000),
      etcdLeaseId: id,
      createRevision: revision!,
    };
  }

  /** flannel's updateSubnet: a new etcd lease and an unconditional put (the old lease is left to expire). */
  async updateLease(subnets: LeaseSubnets, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease> {
    const id = await this.grant(ttlSeconds);
    const key = this.keyOf(subnets);
    try {
      await this.client.put(key).value(encodeLeaseAttrs(attrs)).lease(id).exec();
    } catch (err) {
      await this.revoke(id);
      throw etcdError(`put ${key}`, err);
    }
    return {
      ...subnetsOnly(subnets),
      attrs,
      expiration: new Date(Date.now() + ttlSeconds * 1000),
      etcdLeaseId: id,
    };
  }

  async deleteLease(subnets: LeaseSubnets): Promise<void> {
    try {
      await this.client.delete().key(this.keyOf(subnets)).exec();
    } catch (err) {
      throw etcdError(`delete ${this.keyOf(subnets)}`, err);
    }
  }

  /** Whether an etcd lease is still alive (false once it expired or was revoked). */
  async leaseAlive(id: string): Promise<boolean> {
    try {
      const res = await this.client.leaseClient.leaseTimeToLive({ ID: id });
      return Number(res.TTL) > 0;
    } catch (err) {
      if (/not found/i.test(String((err as Error).message))) return false;
      throw etcdError('lease time-to-live', err);
    }
  }

  /** Reads one lease key; undefined when absent. Malformed values come back as an entry. */
  async getLease(subnets: LeaseSubnets): Promise<DecodedEntry | undefined> {
    let res;
    try {
      res = await this.client.get(this.keyOf(subnets)).exec();
    } catch (err) {
      throw etcdError(`get ${this.keyOf(subnets)}`, err);
    }
    const kv = res.kvs[0];
    return kv ? this.decode(kv) : undefined;
  }

  async watchSubnets(fromRevision: bigint, h: SubnetsWatchHandlers): Promise<RegistryWatch> {
    const watcher = await this.client
      .watch()
      .prefix(this.subnetsPrefix)
      .startRevision(fromRevision.toString())
      .create();
    watcher.on('data', (res: IWatchResponse) => {
      if (res.compact_revision && res.compact_revision !== '0') {
        h.onCompacted();
        return;
      }
      const changes: LeaseChange[] = [];
      for (const ev of res.events) {
        const key = ev.kv.key.toString();
        changes.push(
          ev.type === 'Delete'
            ? { type: 'delete', key, subnet: parseSubnetKey(key.slice(this.subnetsPrefix.length)) }
            : { type: 'put', key, entry: this.decode(ev.kv) },
        );
      }
      h.onChanges(changes, BigInt(res.header?.revision ?? 0));
    });
    watcher.on('error', (err: Error) => h.onError(this.explained(err)));
    watcher.on('disconnected', (err: Error) => h.onDisconnected(this.explained(err)));
    watcher.on('connected', () => h.onConnected());
    return { cancel: () => watcher.cancel().catch(() => undefined) };
  }

  async watchLease(subnets: LeaseSubnets, h: LeaseWatchHandlers): Promise<RegistryWatch> {
    const watcher = await this.client.watch().key(this.keyOf(subnets)).create();
    watcher.on('delete', () => h.onDelete());
    watcher.on('put', (kv) => h.onPut(this.decode(kv)));
    watcher.on('error', (err: Error) => h.onError(this.explained(err)));
    return { cancel: () => watcher.cancel().catch(() => undefined) };
  }

  private explained(err: Error): Error {
    return asError(this.explain(err));
  }

  close(): void {
    this.client.close();
  }
}
