/**
 * The keep-alive both firewall modes share (iptables.ts, nftables.ts): install the rule sets now,
 * then every --iptables-resync seconds ask the writer whether what the kernel holds drifted from
 * them (another tool flushed a chain, someone deleted a rule) and re-install when it did. A drift
 * is a warning plus the onResync hook (the daemon's resync metric); a check or re-install that
 * fails is an error log line and is tried again at the next tick, never silently dropped.
 */
import type { Logger } from 'pino';
import { describeError } from '../core/errors.js';

/** What the writer found out of place, for the warning. */
export interface RuleDrift {
  readonly fields: Readonly<Record<string, unknown>>;
  readonly message: string;
}

/** One firewall mode's way of writing and reading back its rules. */
export interface RuleWriter<S> {
  /** The mode's name in log lines ('iptables', 'nftables'). */
  readonly name: string;
  /** Installs `sets` atomically, replacing what our chains or tables held; throws OverlaydError('IPTABLES'). */
  install(sets: readonly S[]): Promise<void>;
  /** The first drift from what install wrote, or undefined when all is in place; throws when it cannot tell. */
  drift(sets: readonly S[]): Promise<RuleDrift | undefined>;
}

export class RuleKeeper<S> {
  private timer: NodeJS.Timeout | undefined;
  private sets: readonly S[] = [];
  private checking: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly resyncSeconds: number,
    private readonly onResync: () => void,
    private readonly writer: RuleWriter<S>,
  ) {}

  /** Installs `sets` now (replacing whatever our chains held) and keeps them installed. */
  async apply(sets: readonly S[]): Promise<void> {
    this.sets = sets;
    await this.writer.install(sets);
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), this.resyncSeconds * 1000);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The resync: rebuild when the writer reports a drift. A check already running is not doubled. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = (async () => {
      try {
        const drift = await this.writer.drift(this.sets);
        if (!drift) return;
        this.log.warn(drift.fields, drift.message);
        this.onResync();
        await this.writer.install(this.sets);
      } catch (err) {
        this.log.error({ err: describeError(err) }, `${this.writer.name} resync failed`);
      } finally {
        this.checking = undefined;
      }
    })();
    await this.checking;
  }
}
