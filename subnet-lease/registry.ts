/**
 * The LeaseRegistry on etcd: flannel's keys under one prefix, read and written with the same
 * operations flanneld uses (prefix range, create-if-absent txn with a 24 h etcd lease, grant + put to
 * renew, delete, watch from a revision). The only file that talks to etcd3's client.
 */
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import { OverlaydError } from '../core/errors.js';
import type { Lease, LeaseAttrs } from '../core/lease.js';
import { parseSubnetKey, subnetKeyOf } from '../core/subnet-key.js';
import { encodeLeaseAttrs, parseLeaseAttrs } from './lease.js';
import type { Ipv4Net } from '../core/ipv4.js';
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

function etcdError(what: string, err: unknown): OverlaydError {
  return new OverlaydError('ETCD', `etcd ${what} failed`, { cause: err });
}

export class EtcdRegistry implements LeaseRegistry {
  readonly subnetsPrefix: string;

  constructor(
    private readonly client: Etcd3,
    readonly prefix: string = DEFAULT_PREFIX,
  ) {
    this.subnetsPrefix = `${prefix.replace(/\/+$/, '')}/subnets/`;
  }

  get configKey(): string {
    return `${this.prefix.replace(/\/+$/, '')}/config`;
  }

  keyOf(subnet: Ipv4Net): string {
    return this.subnetsPrefix + subnetKeyOf(subnet);
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
    const subnet = parseSubnetKey(key.slice(this.subnetsPrefix.length));
    if (!subnet)
      return { ok: false, entry: { key, reason: 'key does not name a subnet (want a.b.c.d-len)' } };
    try {
      return { ok: true, lease: { subnet, attrs: parseLeaseAttrs(kv.value.toString()) } };
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
  async createLease(subnet: Ipv4Net, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    const id = await this.grant(ttlSeconds);
    const key = this.keyOf(subnet);
    let succeeded: boolean;
    try {
      const res = await this.client
        .if(key, 'Version', '==', 0)
        .then(this.client.put(key).value(encodeLeaseAttrs(attrs)).lease(id))
        .commit();
      succeeded = res.succeeded;
    } catch (err) {
      await this.revoke(id);
      throw etcdError(`create ${key}`, err);
    }
    if (!succeeded) {
      await this.revoke(id);
      return undefined;
    }
    return { subnet, attrs, expiration: new Date(Date.now() + ttlSeconds * 1000), etcdLeaseId: id };
  }

  /** flannel's updateSubnet: a new etcd lease and an unconditional put (the old lease is left to expire). */
  async updateLease(subnet: Ipv4Net, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease> {
    const id = await this.grant(ttlSeconds);
    const key = this.keyOf(subnet);
    try {
      await this.client.put(key).value(encodeLeaseAttrs(attrs)).lease(id).exec();
    } catch (err) {
      await this.revoke(id);
      throw etcdError(`put ${key}`, err);
    }
    return { subnet, attrs, expiration: new Date(Date.now() + ttlSeconds * 1000), etcdLeaseId: id };
  }

  async deleteLease(subnet: Ipv4Net): Promise<void> {
    try {
      await this.client.delete().key(this.keyOf(subnet)).exec();
    } catch (err) {
      throw etcdError(`delete ${this.keyOf(subnet)}`, err);
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
  async getLease(subnet: Ipv4Net): Promise<DecodedEntry | undefined> {
    let res;
    try {
      res = await this.client.get(this.keyOf(subnet)).exec();
    } catch (err) {
      throw etcdError(`get ${this.keyOf(subnet)}`, err);
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
    watcher.on('error', (err: Error) => h.onError(err));
    watcher.on('disconnected', (err: Error) => h.onDisconnected(err));
    watcher.on('connected', () => h.onConnected());
    return { cancel: () => watcher.cancel().catch(() => undefined) };
  }

  async watchLease(subnet: Ipv4Net, h: LeaseWatchHandlers): Promise<RegistryWatch> {
    const watcher = await this.client.watch().key(this.keyOf(subnet)).create();
    watcher.on('delete', () => h.onDelete());
    watcher.on('put', (kv) => h.onPut(this.decode(kv)));
    watcher.on('error', (err: Error) => h.onError(err));
    return { cancel: () => watcher.cancel().catch(() => undefined) };
  }

  close(): void {
    this.client.close();
  }
}
