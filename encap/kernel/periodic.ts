/**
 * The kernel backends' watch loop: a cheap device check every second (recreate on loss, with
 * backoff from 1 s up to 30 s while it keeps failing) and a full reconcile every 10 s (flannel
 * re-adds missing routes on that period). Errors are logged and retried, never thrown.
 */
import type { Logger } from 'pino';
import { describeError } from '../../core/errors.js';

/** Route protocol marking overlayd's routes (unassigned in iproute2's rt_protos; deploy/ names it "overlayd"). */
export const OVERLAYD_RTPROT = 77;

export class PeriodicReconciler {
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private backoffTicks = 0;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly checkDevice: (() => void) | undefined,
    private readonly reconcile: () => void,
    private readonly reconcileEvery = 10,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.ticks++;
    if (this.backoffTicks > 0) {
      this.backoffTicks--;
      return;
    }
    try {
      this.checkDevice?.();
      if (this.ticks % this.reconcileEvery === 0) this.reconcile();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.backoffTicks = Math.min(30, 2 ** Math.min(this.failures - 1, 5)) - 1;
      this.log.error(
        { err: describeError(err), retryInSeconds: this.backoffTicks + 1 },
        'kernel state check failed',
      );
    }
  }
}
