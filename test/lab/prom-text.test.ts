import { describe, expect, it } from 'vitest';
import { parsePromText, parseSelector, sumMetric } from './prom-text.js';

// Shaped like prom-client's output: HELP/TYPE lines, a labelled counter never incremented.
const PAGE = `# HELP overlayd_peers Peers programmed
# TYPE overlayd_peers gauge
overlayd_peers 2
# HELP overlayd_peers_ignored_total Peer leases ignored
# TYPE overlayd_peers_ignored_total counter
overlayd_peers_ignored_total 5
# HELP overlayd_udp_drops_total Drops
# TYPE overlayd_udp_drops_total counter
overlayd_udp_drops_total{direction="rx",reason="spoofed_source"} 3
overlayd_udp_drops_total{direction="rx",reason="too_short"} 4
overlayd_udp_drops_total{direction="tx",reason="no_route"} 10
# TYPE overlayd_lease_conflicts_total counter
# TYPE odd gauge
odd{path="a \\"b\\", c} d"} 1.5 1700000000000
`;

describe('Prometheus text for the lab', () => {
  it('matches the metric name exactly, not as a prefix', () => {
    expect(sumMetric(PAGE, 'overlayd_peers')).toBe(2);
    expect(sumMetric(PAGE, 'overlayd_peers_ignored_total')).toBe(5);
  });

  it('sums over the labels not named and matches named ones exactly', () => {
    expect(sumMetric(PAGE, 'overlayd_udp_drops_total')).toBe(17);
    expect(sumMetric(PAGE, 'overlayd_udp_drops_total{direction="rx"}')).toBe(7);
    expect(sumMetric(PAGE, 'overlayd_udp_drops_total{direction="rx",reason="too_short"}')).toBe(4);
    expect(sumMetric(PAGE, 'overlayd_udp_drops_total{reason="too_shor"}')).toBe(0);
    expect(sumMetric(PAGE, { name: 'odd', labels: { path: 'a "b", c} d' } })).toBe(1.5);
  });

  it('is 0 for a declared metric without samples, and an error for one not exposed', () => {
    expect(sumMetric(PAGE, 'overlayd_lease_conflicts_total')).toBe(0);
    expect(() => sumMetric(PAGE, 'overlayd_peer')).toThrow(/overlayd_peer is not exposed/);
  });

  it('refuses selectors it cannot read instead of guessing', () => {
    expect(() => parseSelector('overlayd_udp_drops_total{direction="rx"')).toThrow(/expected name/);
    expect(() => parseSelector('overlayd_udp_drops_total{direction=rx}')).toThrow(/label="value"/);
    expect(parseSelector('a{b="c"}')).toEqual({ name: 'a', labels: { b: 'c' } });
  });

  it('reads values with a timestamp, and special values', () => {
    const { samples } = parsePromText('x 1 123\ny +Inf\nz NaN\nw Nan\nv -inf\n');
    expect(samples.map((s) => s.value)).toEqual([1, Infinity, NaN, NaN, -Infinity]);
    expect(() => parsePromText('x abc\n')).toThrow(/line 1: no value/);
    expect(() => parsePromText('x\n')).toThrow(/line 1: no value/);
  });
});
