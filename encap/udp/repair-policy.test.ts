import { describe, expect, it } from 'vitest';
import { RepairPolicy } from './repair-policy.js';

const tunGone = { reason: 'tun_deleted', detail: 'TUN flannel0 deleted' } as const;

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RepairPolicy', () => {
  it('repairs at once, then backs off 250, 500, 1000, 2000 ms, and gives up after 5 attempts', () => {
    const c = clock();
    const p = new RepairPolicy(c.now);
    expect(p.report(tunGone)).toBe(true);
    expect(p.state).toBe('down');
    const waits: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const wait = p.msUntilAttempt()!;
      waits.push(wait);
      c.advance(wait);
      expect(p.msUntilAttempt()).toBe(0);
      expect(p.beginAttempt()).toBe(i);
      const s = p.failed(`open: EPERM ${i}`);
      expect(s).toBe(i < 5 ? 'down' : 'failed');
    }
    expect(waits).toEqual([0, 250, 500, 1000, 2000]);
    expect(p.msUntilAttempt()).toBeUndefined();
    expect(p.describe('udp datapath')).toBe(
      'udp datapath down: TUN flannel0 deleted; repair gave up after 5 attempts; last attempt failed: open: EPERM 5',
    );
  });

  it('says which attempt is next while repairing, and the last error', () => {
    const c = clock();
    const p = new RepairPolicy(c.now);
    p.report(tunGone);
    expect(p.describe('udp datapath')).toBe(
      'udp datapath down: TUN flannel0 deleted; repairing (attempt 1/5)',
    );
    p.beginAttempt();
    p.failed('cannot open TUN flannel0: EBUSY');
    expect(p.describe('udp datapath')).toBe(
      'udp datapath down: TUN flannel0 deleted; repairing (attempt 2/5); last attempt failed: cannot open TUN flannel0: EBUSY',
    );
  });

  it('folds faults seen during a repair into the incident: only the first is news', () => {
    const p = new RepairPolicy(clock().now);
    expect(p.report(tunGone)).toBe(true);
    expect(p.report({ reason: 'worker_error', detail: 'duplex-0 threw' })).toBe(false);
    expect(p.activeFault).toEqual(tunGone);
    p.beginAttempt();
    p.succeeded();
    expect(p.state).toBe('up');
    expect(p.describe('udp datapath')).toBe('udp datapath up');
    expect(p.report({ reason: 'worker_exit', detail: 'duplex-0 exited' })).toBe(true);
  });

  it('gives a fresh budget only after the datapath stayed up for stableMs', () => {
    const c = clock();
    const p = new RepairPolicy(c.now, { maxAttempts: 2, stableMs: 30_000 });
    p.report(tunGone);
    p.beginAttempt();
    p.succeeded();
    c.advance(29_999);
    p.report(tunGone); // too soon: the budget goes on
    c.advance(p.msUntilAttempt()!);
    expect(p.beginAttempt()).toBe(2);
    p.succeeded();
    c.advance(1000);
    p.report(tunGone); // the fault comes back after every repair: give up
    expect(p.state).toBe('failed');

    const q = new RepairPolicy(c.now, { maxAttempts: 2, stableMs: 30_000 });
    q.report(tunGone);
    q.beginAttempt();
    q.failed('x');
    q.beginAttempt();
    q.succeeded();
    c.advance(30_000);
    q.report(tunGone);
    expect(q.state).toBe('down');
    expect(q.beginAttempt()).toBe(1);
  });

  it('refuses an attempt when nothing is down', () => {
    const p = new RepairPolicy(clock().now);
    expect(() => p.beginAttempt()).toThrow(/state up/);
  });
});
