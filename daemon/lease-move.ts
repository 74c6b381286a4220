/**
 * Moving to a new lease after a conflict (another node holds our subnet), as a single-flight
 * retry loop: one move at a time; a request during a move folds into one more pass after it; a
 * failed pass is reported and retried with capped backoff; the node is not ready from the first
 * request until a pass succeeds. The pass itself (stop the old manager, acquire, start the backend,
 * write subnet.env, keep the lease, resync the peers) is the daemon's; this is only the control flow.
 */
import { Backoff, realSleep, type Sleep } from '../subnet-lease/backoff.js';

export interface LeaseMoveOptions {
  /** One attempt at the whole move; throws when any step failed. */
  readonly pass: () => Promise<void>;
  readonly setReady: (ready: boolean) => void;
  /** A pass failed; the next starts after `retryInMs`. */
  readonly onFailure: (err: unknown, retryInMs: number) => void;
  /** The daemon's stop: no pass starts after it, and a move in its backoff ends at once. */
  readonly signal: AbortSignal;
  readonly sleep?: Sleep;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export class LeaseMove {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly o: LeaseMoveOptions) {}

  get active(): boolean {
    return this.running !== undefined;
  }

  /** Starts a move, or asks the running one for another pass. Never rejects. */
  request(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  private async loop(): Promise<void> {
    const { signal } = this.o;
    const sleep = this.o.sleep ?? realSleep;
    const backoff = new Backoff(this.o.initialBackoffMs ?? 500, this.o.maxBackoffMs ?? 30_000);
    this.o.setReady(false);
    do {
      this.again = false;
      for (;;) {
        if (signal.aborted) return;
        try {
          await this.o.pass();
          break;
        } catch (err) {
          if (signal.aborted) return;
          const delay = backoff.next();
          this.o.onFailure(err, delay);
          await sleep(delay, signal);
        }
      }
    } while (this.again);
    if (!signal.aborted) this.o.setReady(true);
  }
}
