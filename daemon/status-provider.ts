/**
 * What the status endpoint reports, read from the running daemon's own objects: the lease as the
 * lease manager holds it, the peer set as the watch holds it (with when each last changed), the
 * datapath mode from the flags and config, and every overlayd_* counter from the metrics registry.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Backend } from '../encap/backend.js';
import { formatCidr, formatIpv4 } from '../core/ipv4.js';
import { subnetKeyOf } from '../core/subnet-key.js';
import { encodeLeaseAttrs } from '../subnet-lease/lease.js';
import type { Lease } from '../core/lease.js';
import type { LeaseEvent } from '../core/lease.js';
import type { NetworkConfig } from '../core/network.js';
import { describeError, type OverlaydError } from '../core/errors.js';
import type { Flags } from './flags.js';
import { StatusServer } from './status-server.js';
import { packageVersion } from './version.js';

export interface StatusLease {
  readonly subnet: string;
  readonly publicIp: string;
  readonly backendType?: string;
  readonly backendData?: unknown;
  readonly expiration?: string;
}

export interface StatusPeer extends StatusLease {
  /** When this node last saw the peer's lease appear or change (ISO time). */
  readonly lastChange?: string;
}

export interface StatusSnapshot {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly ready: boolean;
  readonly etcdUp: boolean;
  readonly network?: string;
  readonly backend?: { readonly type: string; readonly mode: Record<string, unknown> };
  readonly lease?: StatusLease;
  readonly subnetFile: string;
  readonly peers: readonly StatusPeer[];
  /** overlayd_* samples (process and Node.js defaults left out), name → labels and value. */
  readonly counters: Record<
    string,
    ReadonlyArray<{ labels: Record<string, string | number>; value: number }>
  >;
}

export interface StatusSources {
  readonly flags: Flags;
  readonly registry: Registry;
  config(): NetworkConfig | undefined;
  lease(): Lease | undefined;
  peers(): readonly Lease[];
  ready(): boolean;
}

const leaseOf = (l: Lease): StatusLease => ({
  subnet: formatCidr(l.subnet),
  publicIp: formatIpv4(l.attrs.publicIp),
  ...(l.attrs.backendType ? { backendType: l.attrs.backendType } : {}),
  ...(l.attrs.backendData !== undefined ? { backendData: l.attrs.backendData } : {}),
  ...(l.expiration ? { expiration: l.expiration.toISOString() } : {}),
});

/** Remembers when each peer lease last changed, by wrapping the backend the peer watch drives. */
export class PeerChangeLog {
  private readonly seen = new Map<string, { value: string; at: Date }>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  private note(l: Lease, at: Date): void {
    const key = subnetKeyOf(l.subnet);
    const value = encodeLeaseAttrs(l.attrs);
    if (this.seen.get(key)?.value !== value) this.seen.set(key, { value, at });
  }

  record(events: readonly LeaseEvent[]): void {
    const at = this.now();
    for (const e of events) {
      if (e.type === 'added') this.note(e.lease, at);
      else this.seen.delete(subnetKeyOf(e.lease.subnet));
    }
  }

  recordAll(all: readonly Lease[]): void {
    const at = this.now();
    const keep = new Set(all.map((l) => subnetKeyOf(l.subnet)));
    for (const k of [...this.seen.keys()]) if (!keep.has(k)) this.seen.delete(k);
    for (const l of all) this.note(l, at);
  }

  lastChange(l: Lease): Date | undefined {
    return this.seen.get(subnetKeyOf(l.subnet))?.at;
  }

  /** The backend, with every peer change it is handed noted first. */
  track(backend: Backend): Backend {
    return {
      type: backend.type,
      register: () => backend.register(),
      start: (own) => backend.start(own),
      close: () => backend.close(),
      applyPeerEvents: (events) => {
        this.record(events);
        return backend.applyPeerEvents(events);
      },
      reconcile: (peers) => {
        this.recordAll(peers);
        return backend.reconcile(peers);
      },
    };
  }
}

function datapathMode(flags: Flags, config: NetworkConfig): Record<string, unknown> {
  const b = config.backend;
  switch (config.backendType) {
    case 'udp':
      return {
        tun: flags.tunName,
        port: b['port'] ?? 8285,
        offloads: flags.udpOffloads,
        batching: flags.udpBatch,
        workers: flags.udpWorkers,
        queues: flags.udpQueues,
      };
    case 'vxlan':
      return {
        device: `flannel.${typeof b['vni'] === 'number' ? b['vni'] : 1}`,
        port: typeof b['port'] === 'number' && b['port'] !== 0 ? b['port'] : 8472,
        directRouting: b['directrouting'] === true,
      };
    case 'host-gw':
      return { routesVia: 'peer PublicIP' };
    default:
      return {};
  }
}

const SKIP = /^overlayd_(process_|nodejs_)/;

export async function buildStatus(
  src: StatusSources,
  log: PeerChangeLog,
  startedAt: Date,
): Promise<StatusSnapshot> {
  const config = src.config();
  const lease = src.lease();
  const counters: StatusSnapshot['counters'] = {};
  for (const m of await src.registry.getMetricsAsJSON()) {
    if (SKIP.test(m.name)) continue;
    counters[m.name] = m.values.map((v) => ({
      labels: { ...v.labels } as Record<string, string | number>,
      value: v.value,
    }));
  }
  const etcdUp = counters['overlayd_etcd_up']?.[0]?.value !== 0;
  return {
    version: packageVersion(),
    pid: process.pid,
    startedAt: startedAt.toISOString(),
    ready: src.ready(),
    etcdUp,
    subnetFile: src.flags.subnetFile,
    ...(config ? { network: formatCidr(config.network) } : {}),
    ...(config ? { backend: { type: config.backendType, mode: datapathMode(src.flags, config) } } : {}),
    ...(lease ? { lease: leaseOf(lease) } : {}),
    peers: src.peers().map((p) => {
      const at = log.lastChange(p);
      return { ...leaseOf(p), ...(at ? { lastChange: at.toISOString() } : {}) };
    }),
    counters,
  };
}

/**
 * Opens --status-socket (unless ""). An operator tool: a socket that cannot be opened is an error
 * in the log, not a reason to keep pods off the network.
 */
export async function openStatusSocket(
  src: StatusSources,
  log: PeerChangeLog,
  logger: Logger,
): Promise<StatusServer | undefined> {
  const path = src.flags.statusSocket;
  if (path === '') return undefined;
  const startedAt = new Date();
  try {
    const server = await StatusServer.start(path, { snapshot: () => buildStatus(src, log, startedAt) });
    logger.info({ path }, 'status socket listening');
    return server;
  } catch (err) {
    logger.error(
      { code: (err as OverlaydError).code },
      `${describeError(err)}; overlayd status will not answer`,
    );
    return undefined;
  }
}
