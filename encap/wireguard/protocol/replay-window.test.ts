/** The 2048-bit window: in order, reordered, replayed, far behind, jumps that wrap the ring. */
import { describe, expect, it } from 'vitest';
import { ReplayWindow, WINDOW_SIZE } from './replay-window.js';

describe('ReplayWindow', () => {
  it('accepts counters in order once each, starting at 0', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 5000; c++) expect(w.accept(c)).toBe(true);
    for (let c = 5000 - WINDOW_SIZE; c < 5000; c++) expect(w.accept(c)).toBe(false);
  });

  it('accepts reordered counters inside the window and refuses their replays', () => {
    const w = new ReplayWindow();
    const order = [5, 2, 9, 0, 1, 7, 3, 8, 4, 6];
    for (const c of order) expect(w.accept(c)).toBe(true);
    for (const c of order) expect(w.accept(c)).toBe(false);
    expect(w.newest).toBe(9);
  });

  it('refuses a counter more than WINDOW_SIZE behind the newest, accepts one exactly at the edge', () => {
    const w = new ReplayWindow();
    expect(w.accept(10_000)).toBe(true);
    expect(w.mayAccept(10_000 - WINDOW_SIZE)).toBe(true);
    expect(w.accept(10_000 - WINDOW_SIZE)).toBe(true);
    expect(w.accept(10_000 - WINDOW_SIZE - 1)).toBe(false);
    expect(w.accept(0)).toBe(false);
  });

  it('a jump clears the words it passes, so old bits never shadow new counters (ring wrap)', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 64; c++) w.accept(c);
    // 2048 ahead lands on the same ring word as 0..31: it must read as unseen.
    expect(w.accept(2048)).toBe(true);
    expect(w.accept(2049)).toBe(true);
    // 32..63 are inside the window (newest 2049) and were seen; 64..2047 never were.
    for (let c = 2049 - WINDOW_SIZE; c < 64; c++) expect(w.accept(c)).toBe(false);
    for (let c = 64; c < 2048; c++) expect(w.accept(c)).toBe(true);
    // Many jumps around the ring, each accepted once.
    for (let c = 3000; c < 200_000; c += 777) {
      expect(w.accept(c)).toBe(true);
      expect(w.accept(c)).toBe(false);
      expect(w.accept(c - 1)).toBe(true);
    }
  });

  it('mayAccept changes nothing (a forged packet cannot burn a counter)', () => {
    const w = new ReplayWindow();
    expect(w.mayAccept(100)).toBe(true);
    expect(w.mayAccept(100)).toBe(true);
    expect(w.newest).toBe(0);
    expect(w.accept(100)).toBe(true);
    expect(w.mayAccept(100)).toBe(false);
  });

  it('refuses counters at or past REJECT_AFTER_MESSAGES and non-integers', () => {
    const w = new ReplayWindow(1000);
    expect(w.accept(999)).toBe(true);
    expect(w.accept(1000)).toBe(false);
    expect(w.accept(-1)).toBe(false);
    expect(w.accept(1.5)).toBe(false);
    expect(new ReplayWindow().accept(2 ** 53)).toBe(false);
  });

  it('matches a set-based model over a seeded random walk', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let newest = 0;
    for (let i = 0; i < 5_000; i++) {
      const c = Math.max(0, newest + (next() % 2600) - 2400);
      const expected = !seen.has(c) && (c > newest || newest - c <= WINDOW_SIZE);
      expect(w.accept(c)).toBe(expected);
      if (expected) {
        seen.add(c);
        newest = Math.max(newest, c);
      }
    }
  });
});
