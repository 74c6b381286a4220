/**
 * `overlayd status [--json] [daemon flags]`: the running daemon's own view of this node, read from
 * its status socket. The human form is pure (renderStatus); --json prints the snapshot as served.
 */
import type { StatusSnapshot } from '../daemon/status-provider.js';

type Counters = StatusSnapshot['counters'];

const sum = (c: Counters, name: string, match: Record<string, string> = {}): number =>
  (c[name] ?? [])
    .filter((s) => Object.entries(match).every(([k, v]) => String(s.labels[k]) === v))
    .reduce((a, s) => a + s.value, 0);

function ago(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const s = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

/** The peer's key in its lease: VtepMAC for vxlan, nothing for udp/host-gw. */
function keyOf(data: unknown): string {
  if (typeof data !== 'object' || data === null) return '-';
  const d = data as Record<string, unknown>;
  return typeof d['VtepMAC'] === 'string' ? d['VtepMAC'] : JSON.stringify(data);
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 2)))
      .join('')
      .trimEnd(),
  );
}

export function renderStatus(s: StatusSnapshot, now: Date = new Date()): string {
  const out: string[] = [];
  const mode = s.backend
    ? Object.entries(s.backend.mode)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ')
    : '';
  out.push(`overlayd ${s.version} (pid ${s.pid}, up since ${s.startedAt})`);
  out.push(`ready: ${s.ready ? 'yes' : 'NO'}   etcd: ${s.etcdUp ? 'reachable' : 'UNREACHABLE'}`);
  out.push(
    `network: ${s.network ?? '(no config yet)'}   backend: ${s.backend?.type ?? '-'}${mode ? ` (${mode})` : ''}`,
  );
  if (s.lease)
    out.push(
      `lease: ${s.lease.subnet}  PublicIP ${s.lease.publicIp}  expires ${s.lease.expiration ?? '-'}${s.lease.backendData !== undefined ? `  ${keyOf(s.lease.backendData)}` : ''}`,
    );
  else out.push('lease: none yet');
  out.push('', `peers: ${s.peers.length}`);
  if (s.peers.length > 0) {
    const rows = [['SUBNET', 'PUBLIC IP', 'BACKEND', 'KEY', 'LAST CHANGE']];
    for (const p of s.peers)
      rows.push([p.subnet, p.publicIp, p.backendType ?? 'udp', keyOf(p.backendData), ago(p.lastChange, now)]);
    out.push(...table(rows).map((l) => `  ${l}`));
  }
  const c = s.counters;
  out.push('', 'counters:');
  out.push(
    `  peer events: ${sum(c, 'overlayd_peer_events_total', { type: 'added' })} added, ${sum(c, 'overlayd_peer_events_total', { type: 'removed' })} removed; watch resyncs ${sum(c, 'overlayd_watch_resyncs_total')}; etcd errors ${sum(c, 'overlayd_etcd_request_errors_total')}`,
  );
  out.push(
    `  lease renewals ${sum(c, 'overlayd_lease_renewals_total')}, conflicts ${sum(c, 'overlayd_lease_conflicts_total')}; iptables resyncs ${sum(c, 'overlayd_iptables_resyncs_total')}; malformed leases ${sum(c, 'overlayd_malformed_entries_skipped_total')}`,
  );
  if (c['overlayd_reconcile_runs_total'])
    out.push(
      `  kernel: ${sum(c, 'overlayd_kernel_peers_programmed')} peers programmed, ${sum(c, 'overlayd_reconcile_runs_total')} reconciles, ${sum(c, 'overlayd_reconcile_fixed_total')} fixes, ${sum(c, 'overlayd_netlink_errors_total')} netlink errors`,
    );
  if (c['overlayd_udp_packets_total']) {
    out.push(
      `  udp: tx ${sum(c, 'overlayd_udp_packets_total', { direction: 'tx' })} pkts / ${sum(c, 'overlayd_udp_bytes_total', { direction: 'tx' })} B, rx ${sum(c, 'overlayd_udp_packets_total', { direction: 'rx' })} pkts / ${sum(c, 'overlayd_udp_bytes_total', { direction: 'rx' })} B`,
    );
    const feats = (c['overlayd_udp_offload_enabled'] ?? []).map(
      (f) => `${f.labels['feature']}=${f.value ? 'on' : 'off'}`,
    );
    if (feats.length) out.push(`  udp offloads: ${feats.join(' ')}; queues ${sum(c, 'overlayd_udp_queues')}`);
    const drops = (c['overlayd_udp_drops_total'] ?? []).filter((d) => d.value > 0);
    out.push(
      `  udp drops: ${drops.length === 0 ? 'none' : drops.map((d) => `${d.labels['direction']}/${d.labels['reason']} ${d.value}`).join(', ')}`,
    );
  }
  return out.join('\n') + '\n';
}
