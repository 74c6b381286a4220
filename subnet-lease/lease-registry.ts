/**
 * The registry the control plane talks to: flannel's leases under one prefix, in lease terms.
 * registry.ts implements it on etcd; nothing outside it sees etcd's types, its client or its
 * watch streams (tools/layers.json keeps etcd3 inside subnet-lease/). Every method throws
 * OverlaydError('ETCD') when etcd cannot be reached; none decides policy (lease-manager and
 * peer-watch do).
 */
import type { Ipv4Net } from '../core/ipv4.js';
import type { Lease, LeaseAttrs } from '../core/lease.js';

/** flannel's subnetTTL: a lease lives 24 h unless renewed. */
export const SUBNET_TTL_SECONDS = 86400;

/** A key under subnets/ that is not a lease flannel could have written. */
export interface MalformedEntry {
  readonly key: string;
  readonly reason: string;
}

export interface LeaseListing {
  readonly leases: Lease[];
  readonly malformed: MalformedEntry[];
  /** Revision of the listing; a watch resumes at revision + 1. */
  readonly revision: bigint;
}

export type DecodedEntry = { ok: true; lease: Lease } | { ok: false; entry: MalformedEntry };

/** One change under subnets/: a put (decoded, possibly malformed) or a delete of a key. */
export type LeaseChange =
  | { readonly type: 'put'; readonly key: string; readonly entry: DecodedEntry }
  /** `subnet` is undefined when the deleted key names no subnet. */
  | { readonly type: 'delete'; readonly key: string; readonly subnet: Ipv4Net | undefined };

/** What a watch of every lease reports; a gap in the stream is reported, never papered over. */
export interface SubnetsWatchHandlers {
  /** One watch response's changes, in etcd order, and the revision it brought us to. */
  onChanges(changes: readonly LeaseChange[], revision: bigint): void;
  /** etcd compacted past the watch's revision: changes were lost, re-list. */
  onCompacted(): void;
  /** The watch was cancelled or its stream failed: changes may be lost, re-list. */
  onError(err: Error): void;
  /** The connection dropped; the watch resumes by itself when it is back. */
  onDisconnected(err: Error): void;
  onConnected(): void;
}

/** What a watch of one lease key reports. */
export interface LeaseWatchHandlers {
  onPut(entry: DecodedEntry): void;
  onDelete(): void;
  /** The watch broke (compaction, cancel); it delivers nothing more. */
  onError(err: Error): void;
}

export interface RegistryWatch {
  /** Stops the watch; resolves once no handler will be called again. Never rejects. */
  cancel(): Promise<void>;
}

export interface LeaseRegistry {
  /** Where the network config lives, for messages that tell the operator what to create. */
  readonly configKey: string;
  /** The key prefix the leases live under, for reports. */
  readonly subnetsPrefix: string;
  /** The full key of a subnet's lease (for logs and malformed-entry reports). */
  keyOf(subnet: Ipv4Net): string;
  /** The raw config text, or undefined when the key does not exist (not an error: flannel polls). */
  getConfigText(): Promise<string | undefined>;
  /** Every lease; malformed entries are reported, never thrown. */
  listLeases(): Promise<LeaseListing>;
  /**
   * Creates the lease only if its key does not exist, with a fresh TTL. Returns undefined when
   * another node won the race.
   */
  createLease(subnet: Ipv4Net, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined>;
  /** flannel's updateSubnet: a fresh TTL and an unconditional write. */
  updateLease(subnet: Ipv4Net, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease>;
  deleteLease(subnet: Ipv4Net): Promise<void>;
  /** Whether a lease's TTL (its etcdLeaseId) is still running: false once expired or revoked. */
  leaseAlive(id: string): Promise<boolean>;
  /** One lease; undefined when its key is absent. */
  getLease(subnet: Ipv4Net): Promise<DecodedEntry | undefined>;
  /** Watches every lease from `fromRevision`; resolves once the watch is established. */
  watchSubnets(fromRevision: bigint, handlers: SubnetsWatchHandlers): Promise<RegistryWatch>;
  /** Watches one lease key from now; resolves once the watch is established. */
  watchLease(subnet: Ipv4Net, handlers: LeaseWatchHandlers): Promise<RegistryWatch>;
  /** Closes the connection; the registry is unusable afterwards. */
  close(): void;
}
