import { describe, expect, it } from 'vitest';
import { exitCodeOf, fail, ok, sortChecks, warn } from './check.js';
import { renderJson, renderTable } from './report.js';

const checks = [
  ok('host', 'host.ip_forward', 'IP forwarding', 'net.ipv4.ip_forward = 1'),
  warn(
    'host',
    'host.rp_filter',
    'reverse-path filter',
    'strict on flannel.1',
    'sysctl -w net.ipv4.conf.flannel/1.rp_filter=2',
  ),
  fail(
    'kernel',
    'kernel.stale',
    'no stale overlay entries',
    '1 entry: route 10.244.9.0/24',
    'ip route del 10.244.9.0/24',
  ),
];

describe('diagnose report', () => {
  it('orders failures, then warnings, then ok, stable within each', () => {
    expect(sortChecks(checks).map((c) => c.id)).toEqual([
      'kernel.stale',
      'host.rp_filter',
      'host.ip_forward',
    ]);
    expect(exitCodeOf(checks)).toBe(1);
    expect(exitCodeOf(checks.slice(0, 2))).toBe(0);
  });

  it('prints a table with the fix under each problem and a summary with the exit code', () => {
    expect(renderTable(checks, { node: 'n1', backend: 'vxlan', subnet: '10.244.1.0/24' }, 100)).toBe(
      [
        'overlayd diagnose: n1, backend vxlan, subnet 10.244.1.0/24',
        '',
        'STATE CHECK                     EVIDENCE',
        'FAIL  no stale overlay entries  1 entry: route 10.244.9.0/24',
        '                                fix: ip route del 10.244.9.0/24',
        'WARN  reverse-path filter       strict on flannel.1',
        '                                fix: sysctl -w net.ipv4.conf.flannel/1.rp_filter=2',
        'ok    IP forwarding             net.ipv4.ip_forward = 1',
        '',
        '1 failed, 1 warning(s), 1 ok → exit 1',
        '',
      ].join('\n'),
    );
  });

  it('wraps long evidence under its column', () => {
    const long = fail('peer', 'p', 'peer', 'word '.repeat(30).trim(), 'fix it');
    const lines = renderTable([long], { node: 'n' }, 60).split('\n');
    const rows = lines.slice(3, -3);
    expect(rows.length).toBeGreaterThan(2);
    for (const l of rows) expect(l.length).toBeLessThanOrEqual(60);
    // STATE (6) + the CHECK column (5 wide) + 2 spaces.
    expect(rows[1]!.startsWith(' '.repeat(13) + 'word')).toBe(true);
  });

  it('gives the same checks as JSON, failures first, with the exit code', () => {
    const j = JSON.parse(renderJson(checks, { node: 'n1' }));
    expect(j.exitCode).toBe(1);
    expect(j.summary).toEqual({ fail: 1, warn: 1, ok: 1 });
    expect(j.checks[0]).toEqual({
      id: 'kernel.stale',
      group: 'kernel',
      verdict: 'fail',
      title: 'no stale overlay entries',
      evidence: '1 entry: route 10.244.9.0/24',
      fix: 'ip route del 10.244.9.0/24',
    });
  });
});
