/**
 * Capped exponential backoff and an abortable, injectable sleep: the retry loops of the control
 * plane (lease moves, watch re-arms, peer-set repairs) share them, and unit tests replace the
 * sleep to run those loops without waiting and to see every delay they chose.
 */

/** Waits `ms`; resolves early (never rejects) when `signal` aborts. The timer never holds the process. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });

export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    if (!(initialMs > 0 && maxMs >= initialMs)) throw new RangeError(`bad backoff ${initialMs}..${maxMs} ms`);
    this.current = initialMs;
  }

  /** The delay to wait now; the next one doubles, up to the cap. */
  next(): number {
    const d = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return d;
  }

  /** After a success: the next failure starts from the initial delay again. */
  reset(): void {
    this.current = this.initialMs;
  }
}
