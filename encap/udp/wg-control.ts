/**
 * protocol/control.ts's WgControlPlane as the data plane's ControlPort: endpoints as host-order
 * numbers (an IPv6 engine's: four words) instead of text, its actions as ControlAction, its drop
 * reasons as `handshake_<reason>` counters, and the one PSK and keepalive interval flannel configures for
 * every peer. Peers the control plane would refuse (our own key, a low-order point: a bogus
 * lease) are left out here rather than thrown at the worker; their leases get no session.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '../../core/ipv4.js';
import { formatIpv6, parseIpv6 } from '../../core/ipv6.js';
import { ipOfWords6, wordsOf6 } from '../../core/ipv6-words.js';
import { WgControlPlane, type WgAction } from '../wireguard/protocol/control.js';
import { dh, formatKey, keyPairFrom } from '../wireguard/protocol/keys.js';
import type { WgTimerConstants } from '../wireguard/protocol/peer-timers.js';
import { DROP_REASONS, type DropReason } from './counters.js';
import type { ControlAction, ControlPort, Endpoint } from './wg-dataplane.js';

export interface ControlSettings {
  readonly privateKey: Uint8Array;
  readonly presharedKey?: Uint8Array;
  /** Seconds, 0 = off. */
  readonly persistentKeepaliveS: number;
  readonly timers: WgTimerConstants;
  readonly underLoad: () => boolean;
  readonly now?: () => number;
}

const toText = (e: Endpoint): { address: string; port: number } => ({
  address: e.address6
    ? formatIpv6(ipOfWords6(e.address6[0]!, e.address6[1]!, e.address6[2]!, e.address6[3]!))
    : formatIpv4(e.address),
  port: e.port,
});
/** The control plane only ever sees one engine's family: an IPv6 engine's endpoints are IPv6 text. */
const fromText = (e: { address: string; port: number }): Endpoint => {
  const v6 = e.address.includes(':') ? parseIpv6(e.address) : undefined;
  return v6 !== undefined
    ? { address: 0, port: e.port, address6: Uint32Array.from(wordsOf6(v6)) }
    : { address: parseIpv4(e.address) ?? 0, port: e.port };
};

/** Bytes drawn from the CSPRNG at once by pooledRandom. */
const RANDOM_POOL_BYTES = 512;

/**
 * The control plane's random source: node's CSPRNG, drawn RANDOM_POOL_BYTES at a time; each byte
 * is handed out once (as a copy) and wiped from the pool as it goes. The control plane asks for 2
 * bytes of timer jitter each time data is sent after a receive, i.e. on every service pass of a
 * ping-pong: one randomBytes per ask cost a Buffer and a call into OpenSSL each time.
 */
export function pooledRandom(fill: (b: Uint8Array) => void = randomFillSync): (n: number) => Uint8Array {
  const pool = new Uint8Array(RANDOM_POOL_BYTES);
  let at = RANDOM_POOL_BYTES;
  return (n) => {
    if (n > RANDOM_POOL_BYTES) return new Uint8Array(randomBytes(n));
    if (at + n > RANDOM_POOL_BYTES) {
      fill(pool);
      at = 0;
    }
    const out = pool.slice(at, at + n);
    pool.fill(0, at, at + n);
    at += n;
    return out;
  };
}

export function handshakeDropReason(r: string): DropReason {
  const name = `handshake_${r}`;
  return (DROP_REASONS as readonly string[]).includes(name) ? (name as DropReason) : 'handshake_invalid';
}

function convert(actions: readonly WgAction[]): ControlAction[] {
  const out: ControlAction[] = [];
  for (const a of actions) {
    switch (a.kind) {
      case 'session':
        out.push({
          session: {
            peer: a.session.peerId,
            localIndex: a.session.localIndex,
            remoteIndex: a.session.remoteIndex,
            sendKey: a.session.sendKey,
            recvKey: a.session.recvKey,
            isInitiator: a.sendable,
            createdAtMs: a.session.createdAtMs,
          },
        });
        break;
      case 'confirm':
        out.push({ confirm: { peer: a.peerId, localIndex: a.localIndex } });
        break;
      case 'expire':
        out.push({ expire: { peer: a.peerId, localIndex: a.localIndex } });
        break;
      case 'send':
        out.push({ send: a.bytes, to: fromText(a.to) });
        break;
      case 'keepalive':
        out.push({ keepalive: a.peerId });
        break;
      case 'endpoint':
        out.push({ endpoint: { peer: a.peerId, endpoint: fromText(a.endpoint) } });
        break;
      case 'flush':
        out.push({ flush: a.peerId });
        break;
    }
  }
  return out;
}

export function createControlPort(s: ControlSettings): ControlPort {
  const now = s.now ?? Date.now;
  const own = keyPairFrom(s.privateKey);
  const ownId = formatKey(own.publicKey);
  const cp = new WgControlPlane({
    privateKey: s.privateKey,
    now,
    random: pooledRandom(),
    underLoad: s.underLoad,
    timers: s.timers,
  });
  return {
    setPeers(peers) {
      return convert(
        cp.setPeers(
          peers
            .filter((p) => formatKey(p.publicKey) !== ownId && dh(own.privateKey, p.publicKey) !== undefined)
            .map((p) => ({
              publicKey: p.publicKey,
              ...(s.presharedKey ? { presharedKey: s.presharedKey } : {}),
              ...(p.endpoint ? { endpoint: toText(p.endpoint) } : {}),
              allowedIps: p.allowedIps,
              persistentKeepalive: s.persistentKeepaliveS,
            })),
        ),
      );
    },
    receiveHandshake(bytes, from) {
      const r = cp.receiveHandshake(bytes, toText(from));
      return { actions: convert(r.actions), ...(r.drop ? { drop: handshakeDropReason(r.drop) } : {}) };
    },
    tick() {
      return convert(cp.tick());
    },
    noteTransportSent(peer, count, keepalive) {
      return convert(cp.noteTransportSent(peer, count, keepalive));
    },
    noteTransportReceived(localIndex, from, keepalive) {
      return convert(cp.noteTransportReceived(localIndex, toText(from), keepalive));
    },
    wantSession(peer) {
      return convert(cp.wantSession(peer));
    },
  };
}
