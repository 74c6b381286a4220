/** Metrics of the kernel-programming backends (vxlan, host-gw). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class KernelMetrics {
  readonly peersProgrammed: Gauge;
  readonly netlinkErrors: Counter<'op'>;
  readonly reconcileRuns: Counter;
  readonly reconcileFixed: Counter<'kind'>;
  readonly programSeconds: Histogram;
  readonly peersIgnored: Counter<'reason'>;

  constructor(registry: Registry) {
    this.peersProgrammed = new Gauge({
      name: 'overlayd_kernel_peers_programmed',
      help: 'Peers whose kernel entries are in place',
      registers: [registry],
    });
    this.netlinkErrors = new Counter({
      name: 'overlayd_netlink_errors_total',
      help: 'rtnetlink requests that failed, by operation',
      labelNames: ['op'],
      registers: [registry],
    });
    this.reconcileRuns = new Counter({
      name: 'overlayd_reconcile_runs_total',
      help: 'Full comparisons of kernel state with the peer set',
      registers: [registry],
    });
    this.reconcileFixed = new Counter({
      name: 'overlayd_reconcile_fixed_total',
      help: 'Kernel entries a reconcile added (missing) or removed (stale)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.programSeconds = new Histogram({
      name: 'overlayd_peer_program_seconds',
      help: 'Time to program one peer event into the kernel',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    });
    this.peersIgnored = new Counter({
      name: 'overlayd_peers_ignored_total',
      help: 'Peer leases this backend cannot use (other BackendType, bad BackendData, gateway not on-link)',
      labelNames: ['reason'],
      registers: [registry],
    });
  }
}
