/**
 * The paper's timers (§6) on an injected clock: rekey after REKEY_AFTER_TIME, retransmits every
 * REKEY_TIMEOUT (+ jitter) until REKEY_ATTEMPT_TIME, passive keepalive after KEEPALIVE_TIMEOUT of
 * receive-only, expiry at REJECT_AFTER_TIME, persistent keepalive, new handshake when the peer goes
 * quiet, key erasure after 3 × REJECT_AFTER_TIME, rekey by message count. No real time passes.
 */
import { describe, expect, it } from 'vitest';
import {
  FakeClock,
  handshake,
  kinds,
  makeNode,
  sends,
  type Node,
} from '../../../test/support/wg-control-harness.js';
import { WG_TIMERS } from './peer-timers.js';
import type { WgAction } from './control.js';

function pair(timers?: Parameters<typeof makeNode>[3], keepaliveA = 0) {
  const clock = new FakeClock();
  const a = makeNode(clock, 1, '198.18.0.1', timers);
  const b = makeNode(clock, 2, '198.18.0.2', timers);
  const aActions = a.cp.setPeers([
    { publicKey: b.publicKey, endpoint: b.address, allowedIps: [], persistentKeepalive: keepaliveA },
  ]);
  b.cp.setPeers([{ publicKey: a.publicKey, endpoint: a.address, allowedIps: [] }]);
  return { clock, a, b, aActions };
}

/** Advances to `ms` after the start, running tick() at every deadline on the way. */
function runUntil(clock: FakeClock, node: Node, untilMs: number): { at: number; action: WgAction }[] {
  const out: { at: number; action: WgAction }[] = [];
  for (;;) {
    const next = node.cp.nextDeadline();
    if (next === undefined || next > untilMs) break;
    clock.ms = Math.max(clock.ms, next);
    for (const action of node.cp.tick()) out.push({ at: clock.ms, action });
  }
  clock.ms = Math.max(clock.ms, untilMs);
  for (const action of node.cp.tick()) out.push({ at: clock.ms, action });
  return out;
}

describe('initiator rekey', () => {
  it('sending on a session REKEY_AFTER_TIME old starts a handshake; younger or as responder does not', () => {
    const { clock, a, b } = pair();
    handshake(a, b);
    clock.advance(WG_TIMERS.rekeyAfterTimeMs - 1);
    expect(a.cp.noteTransportSent(b.id, 1)).toEqual([]);
    expect(b.cp.noteTransportSent(a.id, 1)).toEqual([]);
    clock.advance(1);
    expect(kinds(a.cp.noteTransportSent(b.id, 1))).toEqual(['send']);
    expect(b.cp.noteTransportSent(a.id, 1)).toEqual([]); // the responder never rekeys by time
    // One handshake in flight at a time.
    expect(a.cp.noteTransportSent(b.id, 1)).toEqual([]);
  });

  it('REKEY_AFTER_MESSAGES rekeys either side; REJECT_AFTER_MESSAGES expires the session', () => {
    const { clock, a, b } = pair({ rekeyAfterMessages: 100, rejectAfterMessages: 200 });
    const { init } = handshake(a, b);
    expect(b.cp.noteTransportSent(a.id, 98)).toEqual([]);
    expect(kinds(b.cp.noteTransportSent(a.id, 2))).toEqual(['send']);
    clock.advance(6_000);
    expect(kinds(a.cp.noteTransportSent(b.id, 150))).toEqual(['send']);
    clock.advance(6_000);
    const out = a.cp.noteTransportSent(b.id, 49);
    expect(out.filter((x) => x.kind === 'expire')).toEqual([
      { kind: 'expire', peerId: b.id, localIndex: init.localIndex },
    ]);
  });

  it('a receive-only initiator renews once at REJECT − KEEPALIVE − REKEY_TIMEOUT', () => {
    const { clock, a, b } = pair();
    const { init } = handshake(a, b);
    clock.advance(164_999);
    expect(a.cp.noteTransportReceived(init.localIndex, b.address)).toEqual([]);
    clock.advance(1);
    expect(kinds(a.cp.noteTransportReceived(init.localIndex, b.address))).toEqual(['send']);
  });
});

describe('retransmission', () => {
  it('resends a new initiation every REKEY_TIMEOUT + jitter until REKEY_ATTEMPT_TIME, then gives up', () => {
    const { clock, a, b } = pair();
    const start = clock.ms;
    const [first] = sends(a.cp.wantSession(b.id));
    const events = runUntil(clock, a, start + 120_000);
    const inits = events.filter((e) => e.action.kind === 'send');
    const times = [start, ...inits.map((e) => e.at)];
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      expect(gap).toBeGreaterThanOrEqual(WG_TIMERS.rekeyTimeoutMs);
      expect(gap).toBeLessThanOrEqual(WG_TIMERS.rekeyTimeoutMs + WG_TIMERS.rekeyJitterMs);
    }
    expect(times[times.length - 1]! - start).toBeLessThan(WG_TIMERS.rekeyAttemptTimeMs);
    expect(inits.length).toBeGreaterThanOrEqual(16);
    const flush = events.find((e) => e.action.kind === 'flush');
    expect(flush!.at - start).toBeGreaterThanOrEqual(WG_TIMERS.rekeyAttemptTimeMs);
    expect(events.filter((e) => e.at > flush!.at && e.action.kind === 'send')).toEqual([]);
    // Each retransmit is a fresh initiation (new ephemeral, new index).
    const bytes = new Set(
      [first!, ...inits.map((e) => e.action)].map((x) =>
        Buffer.from((x as { bytes: Uint8Array }).bytes).toString('hex'),
      ),
    );
    expect(bytes.size).toBe(inits.length + 1);
    expect(a.cp.peer(b.id)!.handshakeInFlight).toBe(false);
    // New data asks again.
    expect(kinds(a.cp.wantSession(b.id))).toEqual(['send']);
  });

  it('a response stops the retransmissions', () => {
    const { clock, a, b } = pair();
    handshake(a, b);
    const events = runUntil(clock, a, clock.ms + 30_000);
    expect(events.filter((e) => e.action.kind === 'send')).toEqual([]);
  });

  it('wantSession is rate limited to one initiation per REKEY_TIMEOUT', () => {
    const { clock, a, b } = pair();
    expect(kinds(a.cp.wantSession(b.id))).toEqual(['send']);
    expect(a.cp.wantSession(b.id)).toEqual([]);
    clock.advance(1_000);
    expect(a.cp.wantSession(b.id)).toEqual([]);
  });
});

describe('keepalives', () => {
  it('a passive keepalive goes out KEEPALIVE_TIMEOUT after receive-only data, not if we replied', () => {
    const { clock, a, b } = pair();
    const { resp } = handshake(a, b);
    b.cp.noteTransportReceived(resp.localIndex, a.address);
    const t0 = clock.ms;
    const events = runUntil(clock, b, t0 + 9_999);
    expect(events.filter((e) => e.action.kind === 'keepalive')).toEqual([]);
    const at10 = runUntil(clock, b, t0 + 10_000);
    expect(at10.map((e) => e.action)).toContainEqual({ kind: 'keepalive', peerId: a.id });

    b.cp.noteTransportReceived(resp.localIndex, a.address);
    clock.advance(3_000);
    b.cp.noteTransportSent(a.id, 1); // we answered with data: no keepalive owed
    const later = runUntil(clock, b, clock.ms + 20_000);
    expect(later.filter((e) => e.action.kind === 'keepalive')).toEqual([]);
  });

  it('keepalives received do not call for keepalives back', () => {
    const { clock, a, b } = pair();
    const { resp } = handshake(a, b);
    b.cp.noteTransportReceived(resp.localIndex, a.address, true);
    const events = runUntil(clock, b, clock.ms + 20_000);
    expect(events.filter((e) => e.action.kind === 'keepalive')).toEqual([]);
  });

  it('sending data with nothing back for KEEPALIVE + REKEY_TIMEOUT starts a new handshake', () => {
    const { clock, a, b } = pair();
    handshake(a, b);
    clock.advance(1_000);
    const t0 = clock.ms;
    a.cp.noteTransportSent(b.id, 1);
    const events = runUntil(clock, a, t0 + 15_000 + WG_TIMERS.rekeyJitterMs);
    const inits = events.filter((e) => e.action.kind === 'send');
    expect(inits.length).toBe(1);
    expect(inits[0]!.at - t0).toBeGreaterThanOrEqual(15_000);
  });

  it('persistent keepalive: a handshake at once when configured, then keepalives every interval', () => {
    const { clock, a, b, aActions } = pair(undefined, 25);
    const [init] = sends(aActions);
    expect(init).toBeDefined();
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    a.cp.receiveHandshake(sends(r.actions)[0]!.bytes, b.address);
    a.cp.noteTransportSent(b.id, 1, true);
    const t0 = clock.ms;
    const events = runUntil(clock, a, t0 + 80_000);
    const keepalives = events.filter((e) => e.action.kind === 'keepalive').map((e) => e.at - t0);
    expect(keepalives).toEqual([25_000, 50_000, 75_000]);
    // Traffic postpones it.
    clock.advance(20_000);
    a.cp.noteTransportSent(b.id, 1);
    const quiet = runUntil(clock, a, clock.ms + 24_000);
    expect(quiet.filter((e) => e.action.kind === 'keepalive')).toEqual([]);
  });
});

describe('expiry', () => {
  it('sessions expire at REJECT_AFTER_TIME on both sides, and keys are erased after 3 × REJECT', () => {
    const { clock, a, b } = pair();
    const { init, resp } = handshake(a, b);
    const t0 = clock.ms;
    expect(runUntil(clock, a, t0 + 179_999).filter((e) => e.action.kind === 'expire')).toEqual([]);
    const expA = runUntil(clock, a, t0 + 180_000).filter((e) => e.action.kind === 'expire');
    expect(expA.map((e) => e.action)).toEqual([
      { kind: 'expire', peerId: b.id, localIndex: init.localIndex },
    ]);
    const expB = runUntil(clock, b, t0 + 180_000).filter((e) => e.action.kind === 'expire');
    expect(expB.map((e) => e.action)).toEqual([
      { kind: 'expire', peerId: a.id, localIndex: resp.localIndex },
    ]);
    expect(a.cp.peer(b.id)!.currentIndex).toBeUndefined();
    // Nothing left to send with: data asks for a handshake.
    expect(kinds(a.cp.wantSession(b.id))).toEqual(['send']);
  });

  it('no key outlives REJECT_AFTER_TIME, and after 3 × REJECT nothing is left to erase', () => {
    // Sessions expire one by one at REJECT_AFTER_TIME, which always comes before the paper's
    // 3 × REJECT erasure; that timer then finds nothing and no deadline remains.
    const { clock, a, b } = pair({ rejectAfterTimeMs: 100_000 });
    const first = handshake(a, b);
    clock.advance(6_000);
    const second = handshake(a, b);
    const t0 = clock.ms;
    const events = runUntil(clock, a, t0 + 300_000);
    const expired = events
      .filter((e) => e.action.kind === 'expire')
      .map((e) => [(e.action as { localIndex: number }).localIndex, e.at - t0]);
    expect(expired).toEqual([
      [first.init.localIndex, 94_000],
      [second.init.localIndex, 100_000],
    ]);
    expect(a.cp.nextDeadline()).toBeUndefined();
    expect(a.cp.peer(b.id)!.currentIndex).toBeUndefined();
  });
});
