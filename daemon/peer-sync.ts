/**
 * Wires the peer watch to the backend and the metrics: the first listing reconciles the backend
 * with the full peer set (removing stale kernel state), later events are applied one by one in
 * etcd order as one batch per watch response, each logged and counted. After a failed apply the
 * watch re-lists ('repair', counted as overlayd_watch_resyncs_total{reason="apply-failed"}) and
 * the backend reconciles with the whole set again.
 */
import type { Logger } from 'pino';
import type { Backend } from '../encap/backend.js';
import { formatCidr, formatIpv4, type Ipv4Net } from '../core/ipv4.js';
import { PeerWatch } from '../subnet-lease/peer-watch.js';
import type { LeaseRegistry } from '../subnet-lease/lease-registry.js';
import type { DaemonMetrics } from './metrics.js';

export interface PeerSyncOptions {
  readonly registry: LeaseRegistry;
  readonly backend: Backend;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  readonly ownSubnet: () => Ipv4Net | undefined;
  readonly ownPublicIp?: number;
  readonly ownPublicIpv6?: bigint;
  /** Called when etcd answers again after an outage. */
  readonly onReconnect: () => void;
}

export function createPeerSync(o: PeerSyncOptions): PeerWatch {
  const { backend, metrics, log } = o;
  const watch: PeerWatch = new PeerWatch({
    registry: o.registry,
    ownSubnet: o.ownSubnet,
    ...(o.ownPublicIp !== undefined ? { ownPublicIp: o.ownPublicIp } : {}),
    ...(o.ownPublicIpv6 !== undefined ? { ownPublicIpv6: o.ownPublicIpv6 } : {}),
    log,
    hooks: {
      onEvents: async (events, kind, snapshot) => {
        if (kind === 'initial' && snapshot) {
          await backend.reconcile(snapshot);
          metrics.peerEvents.inc({ type: 'added' }, snapshot.length);
        } else {
          // Build log lines only when they will be written: thousands of events arrive at once.
          const logEach = log.isLevelEnabled('info');
          for (const ev of events) {
            if (logEach) {
              log.info(
                { subnet: formatCidr(ev.lease.subnet), publicIp: formatIpv4(ev.lease.attrs.publicIp), kind },
                `peer ${ev.type}`,
              );
            }
            metrics.peerEvents.inc({ type: ev.type });
          }
          if (kind === 'repair' && snapshot) await backend.reconcile(snapshot);
          else await backend.applyPeerEvents(events);
        }
        metrics.peers.set(watch.peers().length);
      },
      onMalformed: () => metrics.malformedEntries.inc(),
      onResync: (reason) => metrics.watchResyncs.inc({ reason }),
      onEtcdError: (op) => metrics.etcdErrors.inc({ op }),
      onConnectivity: (up) => {
        metrics.etcdUp.set(up ? 1 : 0);
        if (up) o.onReconnect();
      },
    },
  });
  return watch;
}
