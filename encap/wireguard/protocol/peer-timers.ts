/**
 * One peer's timers (paper §6), as deadlines on an injected clock instead of OS timers, so that
 * tests move time by hand. The control plane reports events (handshake sent, data sent, ...) and
 * asks `due(now)` which deadlines have passed; it turns each into protocol actions.
 *
 *   retransmit     REKEY_TIMEOUT + jitter after an initiation with no response: send a new one,
 *                  until REKEY_ATTEMPT_TIME has passed since the first, then give up
 *   keepalive      KEEPALIVE_TIMEOUT after receiving data, if we sent nothing since: send an empty
 *                  transport message, so the peer knows its data arrived (passive keepalive)
 *   newHandshake   KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after sending data with nothing
 *                  received since: the session looks dead, start a new handshake
 *   persistent     every `persistentKeepalive` of silence in both directions: a keepalive, to keep
 *                  NAT mappings open (off unless configured)
 *   zeroKeys       3 × REJECT_AFTER_TIME after the last session was derived: erase every key
 */

/** The paper's constants, in milliseconds and messages; tests shorten them. */
export interface WgTimerConstants {
  rekeyAfterMessages: number;
  rejectAfterMessages: number;
  rekeyAfterTimeMs: number;
  rejectAfterTimeMs: number;
  rekeyAttemptTimeMs: number;
  rekeyTimeoutMs: number;
  keepaliveTimeoutMs: number;
  /** Retransmits and new-handshake timers add up to this much random delay (wireguard-go: 333 ms). */
  rekeyJitterMs: number;
  /** A peer's initiations closer together than this are dropped (wireguard-go: 1/50 s). */
  initiationMinIntervalMs: number;
}

export const WG_TIMERS: Readonly<WgTimerConstants> = Object.freeze({
  rekeyAfterMessages: 2 ** 60,
  rejectAfterMessages: 2 ** 64 - 2 ** 13 - 1,
  rekeyAfterTimeMs: 120_000,
  rejectAfterTimeMs: 180_000,
  rekeyAttemptTimeMs: 90_000,
  rekeyTimeoutMs: 5_000,
  keepaliveTimeoutMs: 10_000,
  rekeyJitterMs: 333,
  initiationMinIntervalMs: 20,
});

export type TimerEvent = 'retransmit' | 'giveUp' | 'keepalive' | 'newHandshake' | 'persistent' | 'zeroKeys';

export class PeerTimers {
  private retransmitAt: number | undefined;
  private firstAttemptAt = 0;
  private keepaliveAt: number | undefined;
  private newHandshakeAt: number | undefined;
  private persistentAt: number | undefined;
  private zeroKeysAt: number | undefined;

  constructor(
    private readonly c: Readonly<WgTimerConstants>,
    /** Uniform in [0, 1): the jitter source (injected). */
    private readonly jitter: () => number,
    /** Persistent keepalive interval in ms; 0 = off. */
    public persistentKeepaliveMs: number,
  ) {}

  private jittered(ms: number): number {
    return ms + Math.floor(this.jitter() * (this.c.rekeyJitterMs + 1));
  }

  /** An initiation went out; `retry` says it repeats an unanswered one. */
  handshakeInitiated(now: number, retry: boolean): void {
    if (!retry) this.firstAttemptAt = now;
    this.retransmitAt = now + this.jittered(this.c.rekeyTimeoutMs);
  }

  /** Whether an initiation is awaiting its response. */
  get handshakeInFlight(): boolean {
    return this.retransmitAt !== undefined;
  }

  /** A response arrived (we initiated), or our response was confirmed by data (we responded). */
  handshakeComplete(): void {
    this.retransmitAt = undefined;
  }

  /** New session keys exist: erase them all if no newer ones come for 3 × REJECT_AFTER_TIME. */
  sessionDerived(now: number): void {
    this.zeroKeysAt = now + 3 * this.c.rejectAfterTimeMs;
  }

  /** A transport message with a packet in it went out. */
  dataSent(now: number): void {
    if (this.newHandshakeAt === undefined)
      this.newHandshakeAt = now + this.jittered(this.c.keepaliveTimeoutMs + this.c.rekeyTimeoutMs);
  }

  /** A transport message with a packet in it came in (and authenticated). */
  dataReceived(now: number): void {
    if (this.keepaliveAt === undefined) this.keepaliveAt = now + this.c.keepaliveTimeoutMs;
  }

  /** Anything authenticated went out: no passive keepalive is owed. */
  authenticatedSent(): void {
    this.keepaliveAt = undefined;
  }

  /** Anything authenticated came in: the peer is alive. */
  authenticatedReceived(): void {
    this.newHandshakeAt = undefined;
  }

  /** Anything authenticated went out or came in: the persistent keepalive restarts. */
  traversal(now: number): void {
    this.persistentAt = this.persistentKeepaliveMs > 0 ? now + this.persistentKeepaliveMs : undefined;
  }

  /** Every key was erased (zeroKeys fired, or the peer was reset). */
  reset(): void {
    this.retransmitAt = this.keepaliveAt = this.newHandshakeAt = this.zeroKeysAt = undefined;
  }

  /** The timers that expired by `now`, each cleared (and rearmed where the paper says so). */
  due(now: number): TimerEvent[] {
    const out: TimerEvent[] = [];
    if (this.retransmitAt !== undefined && now >= this.retransmitAt) {
      this.retransmitAt = undefined;
      if (now - this.firstAttemptAt >= this.c.rekeyAttemptTimeMs) {
        out.push('giveUp');
        // A peer we cannot reach keeps no keys past 3 × REJECT_AFTER_TIME either way.
        this.zeroKeysAt ??= now + 3 * this.c.rejectAfterTimeMs;
      } else out.push('retransmit');
    }
    if (this.keepaliveAt !== undefined && now >= this.keepaliveAt) {
      this.keepaliveAt = undefined;
      out.push('keepalive');
    }
    if (this.newHandshakeAt !== undefined && now >= this.newHandshakeAt) {
      this.newHandshakeAt = undefined;
      out.push('newHandshake');
    }
    if (this.persistentAt !== undefined && now >= this.persistentAt) {
      this.persistentAt = now + this.persistentKeepaliveMs;
      out.push('persistent');
    }
    if (this.zeroKeysAt !== undefined && now >= this.zeroKeysAt) {
      this.zeroKeysAt = undefined;
      out.push('zeroKeys');
    }
    return out;
  }

  /** The earliest pending deadline, if any. */
  next(): number | undefined {
    let best: number | undefined;
    for (const t of [
      this.retransmitAt,
      this.keepaliveAt,
      this.newHandshakeAt,
      this.persistentAt,
      this.zeroKeysAt,
    ])
      if (t !== undefined && (best === undefined || t < best)) best = t;
    return best;
  }
}
