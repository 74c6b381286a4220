/**
 * Two (or more) control planes on one fake clock, for the control-plane tests: a seeded random
 * source, injectable wall clock, and helpers that pick actions apart.
 */
import {
  WgControlPlane,
  type WgAction,
  type WgControlOptions,
  type WgSession,
} from '../../encap/wireguard/protocol/control.js';
import { formatKey, keyPairFrom } from '../../encap/wireguard/protocol/keys.js';
import type { WgTimerConstants } from '../../encap/wireguard/protocol/peer-timers.js';

export class FakeClock {
  ms = 1_000_000;
  wall = Date.UTC(2026, 11, 2, 4, 0, 0);
  advance(ms: number): void {
    this.ms += ms;
    this.wall += ms;
  }
}

/** A small deterministic generator (xorshift32): reproducible indices, jitter and ephemerals. */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

export interface Node {
  cp: WgControlPlane;
  id: string;
  publicKey: Uint8Array;
  address: { address: string; port: number };
  loaded: { value: boolean };
}

export function makeNode(
  clock: FakeClock,
  seed: number,
  address: string,
  timers?: Partial<WgTimerConstants>,
  extra?: Partial<WgControlOptions>,
): Node {
  const privateKey = new Uint8Array(32).fill(seed);
  const loaded = { value: false };
  const cp = new WgControlPlane({
    privateKey,
    now: () => clock.ms,
    wallClock: () => clock.wall,
    random: seededRandom(seed * 7919),
    underLoad: () => loaded.value,
    ...(timers ? { timers } : {}),
    ...extra,
  });
  const publicKey = keyPairFrom(privateKey).publicKey;
  return { cp, id: formatKey(publicKey), publicKey, address: { address, port: 51820 }, loaded };
}

export const sends = (a: readonly WgAction[]) =>
  a.filter((x): x is Extract<WgAction, { kind: 'send' }> => x.kind === 'send');
export const sessions = (a: readonly WgAction[]): WgSession[] =>
  a.flatMap((x) => (x.kind === 'session' ? [x.session] : []));
export const kinds = (a: readonly WgAction[]) => a.map((x) => x.kind);
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Runs one full handshake a → b and b's confirmation; returns both sessions. */
export function handshake(a: Node, b: Node): { init: WgSession; resp: WgSession } {
  const [initiation] = sends(a.cp.wantSession(b.id));
  if (!initiation) throw new Error('no initiation sent');
  const r = b.cp.receiveHandshake(initiation.bytes, a.address);
  if (r.drop) throw new Error(`responder dropped: ${r.drop}`);
  const [response] = sends(r.actions);
  const [resp] = sessions(r.actions);
  const back = a.cp.receiveHandshake(response!.bytes, b.address);
  if (back.drop) throw new Error(`initiator dropped: ${back.drop}`);
  const [init] = sessions(back.actions);
  // The initiator's keepalive reaches b and confirms its session.
  a.cp.noteTransportSent(b.id, 1, true);
  b.cp.noteTransportReceived(resp!.localIndex, a.address, true);
  return { init: init!, resp: resp! };
}
