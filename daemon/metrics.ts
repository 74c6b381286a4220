/**
 * The daemon's Prometheus metrics (names overlayd_*, units in the name). Backends register their
 * own on the same registry; the datapath exports counters it keeps in shared typed arrays.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly leaseExpiration = new Gauge({
    name: 'overlayd_lease_expiration_timestamp_seconds',
    help: 'When our subnet lease expires in etcd unless renewed (Unix time)',
    registers: [this.registry],
  });
  readonly leaseRenewals = new Counter({
    name: 'overlayd_lease_renewals_total',
    help: 'Successful lease renewals',
    registers: [this.registry],
  });
  readonly leaseConflicts = new Counter({
    name: 'overlayd_lease_conflicts_total',
    help: 'Times our subnet was found held by another node (pods need restarting)',
    registers: [this.registry],
  });
  readonly peers = new Gauge({
    name: 'overlayd_peers',
    help: 'Peer leases known to this node',
    registers: [this.registry],
  });
  readonly peerEvents = new Counter({
    name: 'overlayd_peer_events_total',
    help: 'Peer lease events handed to the backend',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly etcdErrors = new Counter({
    name: 'overlayd_etcd_request_errors_total',
    help: 'Failed etcd requests by operation',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly etcdUp = new Gauge({
    name: 'overlayd_etcd_up',
    help: '1 while etcd answers, 0 during an outage',
    registers: [this.registry],
  });
  readonly watchResyncs = new Counter({
    name: 'overlayd_watch_resyncs_total',
    help: 'Full re-lists of the peer leases (compaction, broken watch, reconnect)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly malformedEntries = new Counter({
    name: 'overlayd_malformed_entries_skipped_total',
    help: 'Keys or values under subnets/ that are not valid leases',
    registers: [this.registry],
  });
  readonly configErrors = new Counter({
    name: 'overlayd_config_errors_total',
    help: 'Network configs that failed validation',
    registers: [this.registry],
  });
  readonly iptablesResyncs = new Counter({
    name: 'overlayd_iptables_resyncs_total',
    help: 'Times the iptables rules were found drifted and rebuilt',
    registers: [this.registry],
  });
  readonly datapathFailures = new Counter({
    name: 'overlayd_datapath_failures_total',
    help: 'Datapath faults detected (each then repaired, or the daemon exits non-zero), by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'overlayd_ready',
    help: '1 once subnet.env is written and the backend runs; 0 while its datapath is down',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'overlayd_' });
    this.etcdUp.set(1);
  }
}
