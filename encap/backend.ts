/**
 * The interface every backend implements and the daemon drives. The lease is the only contract
 * between control plane and data plane:
 *   register()  before the lease exists: set up what the lease must describe, return it and the MTU
 *   start()     our lease is known (again after a conflict moved us): program the local side
 *   applyPeerEvents  peer leases that appeared, changed or left, in etcd order, as one batch
 *   reconcile() the full peer set, after start and whenever the kernel may have drifted
 *   close()     stop the datapath; leave peers' kernel state in place for a fast restart
 * A backend with a datapath of its own (udp) tells the daemon when it goes down, comes back, or
 * cannot be repaired, through ctx.reportHealth; the daemon turns that into /healthz, /readyz, a
 * metric and, for a datapath that cannot be repaired, a non-zero exit.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ExternalInterface } from '../core/external-interface.js';
import type { Lease, LeaseEvent } from '../core/lease.js';
import type { BackendType, NetworkConfig } from '../core/network.js';

export interface BackendContext {
  readonly config: NetworkConfig;
  readonly extIface: ExternalInterface;
  readonly log: Logger;
  readonly metrics: Registry;
  /** The lease etcd held for our PublicIP before this start, if any (vxlan reuses its VtepMAC). */
  readonly previousLease?: Lease;
  /** Backend-specific flags (udp: TUN name, offload and batching switches). */
  readonly options: Readonly<Record<string, string>>;
  /** The datapath's state changed (see BackendHealth). Called on the main thread, never throws. */
  readonly reportHealth: (health: BackendHealth) => void;
  /**
   * The daemon's current peer set (the watch's lease set), or undefined before the first listing:
   * what a periodic reconcile re-applies, so a lost or failed update cannot leave the datapath stale.
   */
  readonly peerSet: () => readonly Lease[] | undefined;
}

/** Why a datapath failed: the `reason` label of overlayd_datapath_failures_total. */
export type DatapathFailureReason =
  'tun_deleted' | 'tun_down' | 'tun_error' | 'worker_error' | 'worker_exit' | 'worker_stuck' | 'socket_error';

/**
 * What a backend reports about its datapath:
 *   up      forwarding (again)
 *   down    a fault stopped it and a repair is under way; `text` says what and which attempt
 *   failed  repair gave up; the daemon exits non-zero so its supervisor restarts it
 * `fault` is set on the report of a newly detected fault (one per fault, however long the repair).
 */
export type BackendHealth =
  | { readonly state: 'up' }
  | {
      readonly state: 'down' | 'failed';
      /** For operators, e.g. "udp datapath down: TUN flannel0 deleted; repairing (attempt 2/5)". */
      readonly text: string;
      readonly fault?: DatapathFailureReason;
    };

export interface Registration {
  readonly backendType?: string;
  readonly backendData?: unknown;
  /** MTU pods must use (FLANNEL_MTU). */
  readonly mtu: number;
}

export interface Backend {
  readonly type: BackendType;
  register(): Promise<Registration>;
  start(own: Lease): Promise<void>;
  applyPeerEvents(events: readonly LeaseEvent[]): Promise<void>;
  reconcile(peers: readonly Lease[]): Promise<void>;
  close(): Promise<void>;
}

export type BackendFactory = (ctx: BackendContext) => Backend;

/** applyPeerEvents for backends with nothing to batch: the events one by one, in order. */
