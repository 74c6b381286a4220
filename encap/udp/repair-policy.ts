/**
 * When to repair the udp datapath and when to give up: a pure state machine over an injected
 * clock (the backend does the I/O). States:
 *   up        forwarding
 *   down      a fault was seen; repair attempts run, the first at once, then with doubling delays
 *   failed    the attempts are used up; the daemon exits non-zero for its supervisor to restart it
 * A repair that works but is followed by another fault before the datapath has stayed up for
 * `stableMs` does not earn a fresh budget: a fault that comes back after every repair (a worker
 * that throws again at once) ends in `failed` after `maxAttempts`, instead of looping forever.
 */
import type { DatapathFailureReason } from '../backend.js';

export interface RepairPolicyOptions {
  /** Repair attempts before giving up (flannel-like bound; default 5). */
  readonly maxAttempts?: number;
  /** Delay before the second attempt; it doubles for each later one (default 250 ms). */
  readonly baseDelayMs?: number;
  /** Up this long after a repair: the next fault starts with a full budget again (default 30 s). */
  readonly stableMs?: number;
}

export interface Fault {
  readonly reason: DatapathFailureReason;
  /** What happened, for operators: "TUN flannel0 deleted". */
  readonly detail: string;
}

export type PolicyState = 'up' | 'down' | 'failed';

export class RepairPolicy {
  readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly stableMs: number;
  private current: PolicyState = 'up';
  private fault: Fault | undefined;
  /** Attempts used since the datapath was last stable. */
  private attempts = 0;
  private upSince = 0;
  private dueAt = 0;
  private lastError = '';

  constructor(
    private readonly now: () => number,
    opts: RepairPolicyOptions = {},
  ) {
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.stableMs = opts.stableMs ?? 30_000;
  }

  get state(): PolicyState {
    return this.current;
  }

  /** The fault being repaired (or that made us give up). */
  get activeFault(): Fault | undefined {
    return this.fault;
  }

  get attempt(): number {
    return this.attempts;
  }

  /**
   * A fault was detected. Returns true when it is news: the datapath was up, so the caller logs it
   * and counts it. A fault seen while a repair is already running is part of the same incident.
   */
  report(f: Fault): boolean {
    if (this.current !== 'up') return false;
    if (this.now() - this.upSince >= this.stableMs) this.attempts = 0;
    this.current = 'down';
    this.fault = f;
    this.lastError = '';
    this.dueAt = this.now() + this.delayBefore(this.attempts + 1);
    if (this.attempts >= this.maxAttempts) this.current = 'failed';
    return true;
  }

  /** Milliseconds until the next attempt is due (0: now); undefined when none is (up or failed). */
  msUntilAttempt(): number | undefined {
    if (this.current !== 'down') return undefined;
    return Math.max(0, this.dueAt - this.now());
  }

  /** The caller starts an attempt now; returns its number (1-based). */
  beginAttempt(): number {
    if (this.current !== 'down') throw new Error(`no repair to attempt in state ${this.current}`);
    return ++this.attempts;
  }

  /** The attempt worked: the datapath is up again. */
  succeeded(): void {
    if (this.current !== 'down') return;
    this.current = 'up';
    this.fault = undefined;
    this.upSince = this.now();
  }

  /** The attempt failed with `error`; schedules the next or gives up. Returns the new state. */
  failed(error: string): PolicyState {
    if (this.current !== 'down') return this.current;
    this.lastError = error;
    if (this.attempts >= this.maxAttempts) this.current = 'failed';
    else this.dueAt = this.now() + this.delayBefore(this.attempts + 1);
    return this.current;
  }

  private delayBefore(attempt: number): number {
    return attempt <= 1 ? 0 : this.baseDelayMs * 2 ** (attempt - 2);
  }

  /** For /healthz and /readyz: what is wrong and what is being done about it. */
  describe(what: string): string {
    const f = this.fault;
    if (this.current === 'up' || !f) return `${what} up`;
    const last = this.lastError ? `; last attempt failed: ${this.lastError}` : '';
    if (this.current === 'failed')
      return `${what} down: ${f.detail}; repair gave up after ${this.attempts} attempts${last}`;
    const next = Math.min(this.attempts + 1, this.maxAttempts);
    return `${what} down: ${f.detail}; repairing (attempt ${next}/${this.maxAttempts})${last}`;
  }
}
