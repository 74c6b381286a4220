import { describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../daemon/status-provider.js';
import { renderStatus } from './status.js';

const snap: StatusSnapshot = {
  version: '0.1.0',
  pid: 42,
  startedAt: '2026-12-01T10:00:00.000Z',
  ready: true,
  etcdUp: false,
  network: '10.244.0.0/16',
  backend: { type: 'udp', mode: { tun: 'flannel0', port: 8285, offloads: 'auto' } },
  lease: { subnet: '10.244.1.0/24', publicIp: '198.18.0.1', expiration: '2026-12-02T10:00:00.000Z' },
  subnetFile: '/run/flannel/subnet.env',
  peers: [{ subnet: '10.244.2.0/24', publicIp: '198.18.0.2', lastChange: '2026-12-01T10:59:30.000Z' }],
  counters: {
    overlayd_peer_events_total: [
      { labels: { type: 'added' }, value: 3 },
      { labels: { type: 'removed' }, value: 1 },
    ],
    overlayd_udp_packets_total: [
      { labels: { direction: 'tx' }, value: 10 },
      { labels: { direction: 'rx' }, value: 9 },
    ],
    overlayd_udp_bytes_total: [
      { labels: { direction: 'tx' }, value: 1000 },
      { labels: { direction: 'rx' }, value: 900 },
    ],
    overlayd_udp_offload_enabled: [
      { labels: { feature: 'udp_gso' }, value: 1 },
      { labels: { feature: 'udp_gro' }, value: 0 },
    ],
    overlayd_udp_queues: [{ labels: {}, value: 2 }],
    overlayd_udp_drops_total: [
      { labels: { direction: 'rx', reason: 'unknown_sender' }, value: 5 },
      { labels: { direction: 'rx', reason: 'oversized' }, value: 0 },
    ],
  },
};

describe('overlayd status output', () => {
  it('shows readiness, etcd, lease, peers with their last change, and drops by reason', () => {
    const text = renderStatus(snap, new Date('2026-12-01T11:00:00Z'));
    expect(text).toContain('ready: yes   etcd: UNREACHABLE');
    expect(text).toContain('backend: udp (tun=flannel0 port=8285 offloads=auto)');
    expect(text).toContain('lease: 10.244.1.0/24  PublicIP 198.18.0.1  expires 2026-12-02T10:00:00.000Z');
    expect(text).toMatch(
      / {2}SUBNET +PUBLIC IP +BACKEND +KEY +LAST CHANGE\n {2}10\.244\.2\.0\/24 +198\.18\.0\.2 +udp +- +30s ago\n/,
    );
    expect(text).toContain('peer events: 3 added, 1 removed');
    expect(text).toContain('udp: tx 10 pkts / 1000 B, rx 9 pkts / 900 B');
    expect(text).toContain('udp drops: rx/unknown_sender 5\n');
    expect(text).toContain('udp offloads: udp_gso=on udp_gro=off; queues 2');
  });
});
