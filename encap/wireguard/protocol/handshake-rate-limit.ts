/**
 * Under load, even handshakes with a valid MAC2 (sources that proved they own their address) are
 * limited per source address, so one host cannot keep the responder busy with DH: a token bucket
 * per address of 20 handshakes a second with a burst of 5, as wireguard-go's ratelimiter. Buckets
 * idle for a second are full again, so they are forgotten; the table is bounded, and a flood of
 * distinct sources beyond the bound is refused rather than allowed to grow memory.
 */
const PER_SECOND = 20;
const BURST = 5;
const IDLE_MS = 1_000;
const MAX_SOURCES = 65_536;

interface Bucket {
  tokens: number;
  atMs: number;
}

export class HandshakeRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweepMs = 0;

  /** True if a handshake from `address` may be processed now (and takes a token). */
  allow(address: string, nowMs: number): boolean {
    if (nowMs - this.lastSweepMs >= IDLE_MS) this.sweep(nowMs);
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= MAX_SOURCES) return false;
      b = { tokens: BURST, atMs: nowMs };
      this.buckets.set(address, b);
    }
    b.tokens = Math.min(BURST, b.tokens + ((nowMs - b.atMs) * PER_SECOND) / 1000);
    b.atMs = nowMs;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private sweep(nowMs: number): void {
    this.lastSweepMs = nowMs;
    for (const [k, b] of this.buckets) if (nowMs - b.atMs >= IDLE_MS) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
