/** The per-source handshake limit applied under load: burst, refill, independence, bound. */
import { describe, expect, it } from 'vitest';
import { HandshakeRateLimit } from './handshake-rate-limit.js';

describe('HandshakeRateLimit', () => {
  it('allows a burst of 5, then 20 a second', () => {
    const r = new HandshakeRateLimit();
    const ok = Array.from({ length: 8 }, () => r.allow('198.18.0.1', 0));
    expect(ok).toEqual([true, true, true, true, true, false, false, false]);
    expect(r.allow('198.18.0.1', 49)).toBe(false);
    expect(r.allow('198.18.0.1', 50)).toBe(true); // one token per 50 ms
    expect(r.allow('198.18.0.1', 50)).toBe(false);
    let allowed = 0;
    for (let t = 100; t < 1100; t += 5) if (r.allow('198.18.0.1', t)) allowed++;
    expect(allowed).toBe(20);
  });

  it('limits each source on its own and forgets idle ones', () => {
    const r = new HandshakeRateLimit();
    for (let i = 0; i < 5; i++) r.allow('198.18.0.1', 0);
    expect(r.allow('198.18.0.1', 0)).toBe(false);
    expect(r.allow('198.18.0.2', 0)).toBe(true);
    expect(r.size).toBe(2);
    expect(r.allow('198.18.0.3', 5_000)).toBe(true);
    expect(r.size).toBe(1);
  });
});
