/**
 * The WireGuard control plane of one interface as a pure state machine: handshakes, cookies,
 * session slots and timers, with the clock, the random source and ephemeral keys injected. It does
 * no I/O; every call returns actions for the caller (the datapath) to carry out. Transport data
 * (sealing, opening, the replay window) is the datapath's; it reports what it sent and received.
 *
 * API (peerId = the peer's public key in base64, as `wg` prints it):
 *   new WgControlPlane({ privateKey, now, wallClock?, random, ephemeral?, underLoad?, timers? })
 *   setPeers(peers: WgPeerConfig[])                 → WgAction[]  add / update / remove peers
 *   receiveHandshake(bytes, from)                    → { actions, drop? }  message types 1, 2, 3
 *   tick()                                           → WgAction[]  retransmits, rekeys, keepalives,
 *                                                                  expiry; call it at nextDeadline()
 *   nextDeadline()                                   → ms (on `now`'s clock) or undefined
 *   noteTransportSent(peerId, count, keepalive?)     → WgAction[]  after sealing `count` messages on
 *                                                                  the peer's current session
 *   noteTransportReceived(localIndex, from, keepalive?) → WgAction[] after a message on that session
 *                                                                  authenticated (tag + window)
 *   wantSession(peerId)                              → WgAction[]  data is queued and no session
 *                                                                  can send it
 *   peer(peerId)                                     → WgPeerStatus | undefined  (for `status`)
 *
 * Actions, in the order to apply them:
 *   { kind: 'session', session, sendable }  install keys; receive on session.localIndex now; send
 *                                           with them now if sendable (we initiated), else after
 *                                           'confirm' (we responded: the initiator must speak first)
 *   { kind: 'confirm', peerId, localIndex } that responder session is now the one to send with
 *   { kind: 'expire', peerId, localIndex }  forget (zero) those keys, both directions
 *   { kind: 'send', peerId, bytes, to }     send a handshake message (initiation, response, cookie
 *                                           reply; peerId undefined for a cookie reply)
 *   { kind: 'keepalive', peerId }           send on the current session now: queued packets if any,
 *                                           else an empty transport message (and note it as sent)
 *   { kind: 'endpoint', peerId, endpoint }  the peer roamed (an authenticated message came from
 *                                           there): send to it there from now on
 *   { kind: 'flush', peerId }               the handshake gave up (REKEY_ATTEMPT_TIME): drop what is
 *                                           queued for the peer
 * Drop reasons (WgDropReason) are returned, never thrown; the caller counts them.
 */
import { OverlaydError } from '../../../core/errors.js';
import { consumeInitiation, consumeResponse, createInitiation, createResponse } from './handshake.js';
import { formatKey, generateKeyPair, keyPairFrom, dh, type KeyPair } from './keys.js';
import { CookieChecker, MacSender, type Endpoint } from './macs.js';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  messageType,
  MSG_COOKIE_REPLY,
  MSG_INITIATION,
  MSG_RESPONSE,
  type WgDropReason,
} from './messages.js';
import { ZERO_PSK, type InitiatorHandshake } from './noise.js';
import { PeerSessions, type SessionSlot } from './peer-sessions.js';
import { PeerTimers, WG_TIMERS, type WgTimerConstants } from './peer-timers.js';
import { compareTai64n, tai64n } from './tai64n.js';

export type { Endpoint } from './macs.js';

export interface WgPeerConfig {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  endpoint?: Endpoint;
  allowedIps: readonly string[];
  /** Seconds; 0 or absent = off. */
  persistentKeepalive?: number;
}

export interface WgSession {
  peerId: string;
  localIndex: number;
  remoteIndex: number;
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  isInitiator: boolean;
  createdAtMs: number;
}

export type WgAction =
  | { kind: 'session'; session: WgSession; sendable: boolean }
  | { kind: 'confirm'; peerId: string; localIndex: number }
  | { kind: 'expire'; peerId: string; localIndex: number }
  | { kind: 'send'; peerId: string | undefined; bytes: Uint8Array; to: Endpoint }
  | { kind: 'keepalive'; peerId: string }
  | { kind: 'endpoint'; peerId: string; endpoint: Endpoint }
  | { kind: 'flush'; peerId: string };

export interface HandshakeOutcome {
  actions: WgAction[];
  drop?: WgDropReason;
}

export interface WgPeerStatus {
  endpoint: Endpoint | undefined;
  allowedIps: readonly string[];
  lastHandshakeMs: number | undefined;
  currentIndex: number | undefined;
  handshakeInFlight: boolean;
}

export interface WgControlOptions {
  privateKey: Uint8Array;
  /** Monotonic milliseconds: every timer runs on it. */
  now: () => number;
  /** UNIX milliseconds for TAI64N timestamps (default Date.now). */
  wallClock?: () => number;
  /** Cryptographically random bytes (indices, jitter, cookie secrets, nonces, ephemerals). */
  random: (n: number) => Uint8Array;
  /** Ephemeral key pairs (default: from `random`); tests inject fixed ones. */
  ephemeral?: () => KeyPair;
  /** True while the caller judges itself flooded: handshakes then need a valid MAC2. */
  underLoad?: () => boolean;
  timers?: Partial<WgTimerConstants>;
}

interface Peer {
  readonly id: string;
  readonly publicKey: Uint8Array;
  psk: Uint8Array;
  endpoint: Endpoint | undefined;
  allowedIps: readonly string[];
  readonly macs: MacSender;
  readonly timers: PeerTimers;
  readonly sessions: PeerSessions;
  handshake: { localIndex: number; state: InitiatorHandshake } | undefined;
  greatestTimestamp: Uint8Array | undefined;
  lastInitiationReceivedMs: number | undefined;
  lastInitiationSentMs: number | undefined;
  lastHandshakeMs: number | undefined;
  sentLastMinuteHandshake: boolean;
}

type IndexOwner = { peer: Peer; slot?: SessionSlot };

const sameEndpoint = (a: Endpoint | undefined, b: Endpoint) =>
  a !== undefined && a.address === b.address && a.port === b.port;

export class WgControlPlane {
  private readonly local: KeyPair;
  private readonly c: WgTimerConstants;
  private readonly checker: CookieChecker;
  private readonly peers = new Map<string, Peer>();
  private readonly indexes = new Map<number, IndexOwner>();
  private readonly wallClock: () => number;
  private readonly ephemeral: () => KeyPair;

  constructor(private readonly o: WgControlOptions) {
    this.local = keyPairFrom(o.privateKey);
    this.c = { ...WG_TIMERS, ...o.timers };
    this.checker = new CookieChecker(this.local.publicKey, o.random);
    this.wallClock = o.wallClock ?? Date.now;
    this.ephemeral = o.ephemeral ?? (() => generateKeyPair(o.random));
  }

  get publicKey(): Uint8Array {
    return this.local.publicKey;
  }

  setPeers(configs: readonly WgPeerConfig[]): WgAction[] {
    const now = this.o.now();
    const out: WgAction[] = [];
    const wanted = new Map<string, WgPeerConfig>();
    for (const cfg of configs) {
      const id = formatKey(cfg.publicKey);
      if (wanted.has(id))
        throw new OverlaydError('BAD_CONFIG', `peer ${id}: listed twice; list each public key once`);
      if (!dh(this.local.privateKey, cfg.publicKey))
        throw new OverlaydError(
          'BAD_CONFIG',
          `peer ${id}: not a usable Curve25519 public key (low-order point); use the peer's \`wg pubkey\``,
        );
      if (id === formatKey(this.local.publicKey))
        throw new OverlaydError(
          'BAD_CONFIG',
          `peer ${id}: is this node's own public key; leave it out of the peers`,
        );
      wanted.set(id, cfg);
    }
    for (const [id, peer] of this.peers) if (!wanted.has(id)) out.push(...this.removePeer(peer));
    for (const [id, cfg] of wanted) {
      const keepaliveMs = Math.max(0, cfg.persistentKeepalive ?? 0) * 1000;
      let peer = this.peers.get(id);
      const fresh = !peer;
      if (!peer) {
        peer = {
          id,
          publicKey: Uint8Array.from(cfg.publicKey),
          psk: ZERO_PSK,
          endpoint: undefined,
          allowedIps: [],
          macs: new MacSender(cfg.publicKey),
          timers: new PeerTimers(this.c, () => this.unit(), keepaliveMs),
          sessions: new PeerSessions(),
          handshake: undefined,
          greatestTimestamp: undefined,
          lastInitiationReceivedMs: undefined,
          lastInitiationSentMs: undefined,
          lastHandshakeMs: undefined,
          sentLastMinuteHandshake: false,
        };
        this.peers.set(id, peer);
      }
      peer.psk = cfg.presharedKey ? Uint8Array.from(cfg.presharedKey) : ZERO_PSK;
      peer.allowedIps = [...cfg.allowedIps];
      if (cfg.endpoint && !sameEndpoint(peer.endpoint, cfg.endpoint)) {
        peer.endpoint = { ...cfg.endpoint };
        if (!fresh) out.push({ kind: 'endpoint', peerId: id, endpoint: peer.endpoint });
      }
      const keepaliveTurnedOn = keepaliveMs > 0 && (fresh || peer.timers.persistentKeepaliveMs === 0);
      peer.timers.persistentKeepaliveMs = keepaliveMs;
      // As wireguard-go: a persistent keepalive goes out as soon as it is configured, which for a
      // peer without a session means a handshake now.
      if (keepaliveTurnedOn && peer.endpoint) {
        peer.timers.traversal(now);
        out.push(...this.keepalive(peer, now));
      }
    }
    return out;
  }

  receiveHandshake(bytes: Uint8Array, from: Endpoint): HandshakeOutcome {
    switch (messageType(bytes)) {
      case MSG_INITIATION:
        return this.onInitiation(bytes, from);
      case MSG_RESPONSE:
        return this.onResponse(bytes, from);
      case MSG_COOKIE_REPLY:
        return this.onCookieReply(bytes);
      default:
        return { actions: [], drop: bytes.length < 4 ? 'truncated' : 'unknown_type' };
    }
  }

  tick(): WgAction[] {
    const now = this.o.now();
    const out: WgAction[] = [];
    for (const peer of this.peers.values()) {
      for (const slot of peer.sessions.all())
        if (now - slot.createdAtMs >= this.c.rejectAfterTimeMs) out.push(...this.expire(peer, slot));
      for (const ev of peer.timers.due(now)) {
        if (ev === 'retransmit') out.push(...this.initiate(peer, now, true));
        else if (ev === 'newHandshake') out.push(...this.initiate(peer, now, false));
        else if (ev === 'giveUp') {
          this.dropHandshake(peer);
          out.push({ kind: 'flush', peerId: peer.id });
        } else if (ev === 'keepalive') {
          if (peer.sessions.current) out.push(...this.keepalive(peer, now));
        } else if (ev === 'persistent') out.push(...this.keepalive(peer, now));
        else if (ev === 'zeroKeys') {
          for (const slot of peer.sessions.clear()) out.push(...this.forget(peer, slot));
          this.dropHandshake(peer);
          peer.timers.reset();
        }
      }
    }
    return out;
  }

  nextDeadline(): number | undefined {
    let best: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (best === undefined || t < best)) best = t;
    };
    for (const peer of this.peers.values()) {
      consider(peer.timers.next());
      for (const slot of peer.sessions.all()) consider(slot.createdAtMs + this.c.rejectAfterTimeMs);
    }
    return best;
  }

  noteTransportSent(peerId: string, count: number, keepalive = false): WgAction[] {
    const peer = this.peers.get(peerId);
    const slot = peer?.sessions.current;
    if (!peer || !slot || count <= 0) return [];
    const now = this.o.now();
    slot.sent += count;
    peer.timers.authenticatedSent();
    peer.timers.traversal(now);
    if (!keepalive) peer.timers.dataSent(now);
    if (slot.sent >= this.c.rejectAfterMessages)
      return [...this.expire(peer, slot), ...this.initiate(peer, now, false)];
    const old = slot.isInitiator && now - slot.createdAtMs >= this.c.rekeyAfterTimeMs;
    if (slot.sent >= this.c.rekeyAfterMessages || old) return this.initiate(peer, now, false);
    return [];
  }

  noteTransportReceived(localIndex: number, from: Endpoint, keepalive = false): WgAction[] {
    const owner = this.indexes.get(localIndex);
    if (!owner?.slot) return [];
    const { peer, slot } = owner;
    const now = this.o.now();
    const out: WgAction[] = [];
    if (peer.sessions.next === slot) {
      for (const gone of peer.sessions.confirm()) out.push(...this.forget(peer, gone));
      out.push({ kind: 'confirm', peerId: peer.id, localIndex });
      peer.timers.handshakeComplete();
      peer.lastHandshakeMs = now;
    }
    out.push(...this.roam(peer, from));
    peer.timers.authenticatedReceived();
    peer.timers.traversal(now);
    if (!keepalive) peer.timers.dataReceived(now);
    // The initiator renews a session nearing REJECT_AFTER_TIME even if it only receives.
    const cur = peer.sessions.current;
    const limit = this.c.rejectAfterTimeMs - this.c.keepaliveTimeoutMs - this.c.rekeyTimeoutMs;
    if (cur?.isInitiator && now - cur.createdAtMs >= limit && !peer.sentLastMinuteHandshake) {
      peer.sentLastMinuteHandshake = true;
      out.push(...this.initiate(peer, now, false));
    }
    return out;
  }

  wantSession(peerId: string): WgAction[] {
    const peer = this.peers.get(peerId);
    if (!peer) return [];
    return this.initiate(peer, this.o.now(), false);
  }

  peer(peerId: string): WgPeerStatus | undefined {
    const p = this.peers.get(peerId);
    if (!p) return undefined;
    return {
      endpoint: p.endpoint,
      allowedIps: p.allowedIps,
      lastHandshakeMs: p.lastHandshakeMs,
      currentIndex: p.sessions.current?.localIndex,
      handshakeInFlight: p.handshake !== undefined,
    };
  }

  // ---- receiving handshake messages ----

  /** MAC1 always; under load MAC2 too, else a cookie reply (no DH is spent on the sender). */
  private gate(bytes: Uint8Array, sender: number, from: Endpoint): HandshakeOutcome | undefined {
    if (!this.checker.checkMac1(bytes)) return { actions: [], drop: 'bad_mac1' };
    if (this.o.underLoad?.() && !this.checker.checkMac2(bytes, from, this.o.now())) {
      const reply = this.checker.makeReply(bytes, sender, from, this.o.now());
      // The sender is not authenticated yet, so the reply belongs to no peer.
      return { actions: [{ kind: 'send', peerId: undefined, bytes: reply, to: from }], drop: 'cookie_sent' };
    }
    return undefined;
  }

  private onInitiation(bytes: Uint8Array, from: Endpoint): HandshakeOutcome {
    const d = decodeInitiation(bytes);
    if (!d.ok) return { actions: [], drop: d.reason };
    const gated = this.gate(bytes, d.msg.sender, from);
    if (gated) return gated;
    const r = consumeInitiation({
      local: this.local,
      msg: d.msg,
      isKnownPeer: (pk) => this.peers.has(formatKey(pk)),
    });
    if (!r.ok) return { actions: [], drop: r.reason };
    const peer = this.peers.get(formatKey(r.peerPublicKey))!;
    const now = this.o.now();
    if (peer.greatestTimestamp && compareTai64n(r.timestamp, peer.greatestTimestamp) <= 0)
      return { actions: [], drop: 'replayed_initiation' };
    if (
      peer.lastInitiationReceivedMs !== undefined &&
      now - peer.lastInitiationReceivedMs < this.c.initiationMinIntervalMs
    )
      return { actions: [], drop: 'initiation_flood' };
    const localIndex = this.allocateIndex();
    const resp = createResponse({
      state: r.state,
      ephemeral: this.ephemeral(),
      psk: peer.psk,
      sender: localIndex,
      receiver: d.msg.sender,
      macs: peer.macs,
      nowMs: now,
    });
    if (!resp.ok) return { actions: [], drop: resp.reason };
    peer.greatestTimestamp = Uint8Array.from(r.timestamp);
    peer.lastInitiationReceivedMs = now;
    // One handshake per peer: answering theirs abandons ours (its response could no longer match).
    this.dropHandshake(peer);
    const out: WgAction[] = [];
    const slot: SessionSlot = {
      localIndex,
      remoteIndex: d.msg.sender,
      isInitiator: false,
      createdAtMs: now,
      sent: 0,
    };
    this.indexes.set(localIndex, { peer, slot });
    for (const gone of peer.sessions.installResponded(slot)) out.push(...this.forget(peer, gone));
    out.push({
      kind: 'session',
      sendable: false,
      session: this.session(peer, slot, resp.keys.responderSend, resp.keys.initiatorSend),
    });
    out.push(...this.roam(peer, from));
    out.push({ kind: 'send', peerId: peer.id, bytes: resp.bytes, to: from });
    peer.timers.sessionDerived(now);
    peer.timers.authenticatedReceived();
    peer.timers.authenticatedSent();
    peer.timers.traversal(now);
    return { actions: out };
  }

  private onResponse(bytes: Uint8Array, from: Endpoint): HandshakeOutcome {
    const d = decodeResponse(bytes);
    if (!d.ok) return { actions: [], drop: d.reason };
    const gated = this.gate(bytes, d.msg.sender, from);
    if (gated) return gated;
    const owner = this.indexes.get(d.msg.receiver);
    const peer = owner?.peer;
    if (!peer || owner.slot || !peer.handshake || peer.handshake.localIndex !== d.msg.receiver)
      return { actions: [], drop: 'unknown_receiver' };
    const r = consumeResponse({ state: peer.handshake.state, msg: d.msg, psk: peer.psk });
    if (!r.ok) return { actions: [], drop: r.reason };
    const now = this.o.now();
    const localIndex = peer.handshake.localIndex;
    peer.handshake = undefined; // the index now names the session
    const slot: SessionSlot = {
      localIndex,
      remoteIndex: d.msg.sender,
      isInitiator: true,
      createdAtMs: now,
      sent: 0,
    };
    this.indexes.set(localIndex, { peer, slot });
    const out: WgAction[] = [];
    for (const gone of peer.sessions.installInitiated(slot)) out.push(...this.forget(peer, gone));
    out.push({
      kind: 'session',
      sendable: true,
      session: this.session(peer, slot, r.keys.initiatorSend, r.keys.responderSend),
    });
    out.push(...this.roam(peer, from));
    peer.lastHandshakeMs = now;
    peer.sentLastMinuteHandshake = false;
    peer.timers.handshakeComplete();
    peer.timers.sessionDerived(now);
    peer.timers.authenticatedReceived();
    peer.timers.traversal(now);
    // Confirm the keys to the responder at once (queued data, or a keepalive).
    out.push({ kind: 'keepalive', peerId: peer.id });
    peer.timers.authenticatedSent();
    return { actions: out };
  }

  private onCookieReply(bytes: Uint8Array): HandshakeOutcome {
    const d = decodeCookieReply(bytes);
    if (!d.ok) return { actions: [], drop: d.reason };
    const owner = this.indexes.get(d.msg.receiver);
    if (!owner) return { actions: [], drop: 'unknown_receiver' };
    const bad = owner.peer.macs.consumeCookieReply(d.msg, this.o.now());
    // The cookie goes into mac2 of the next retransmit; nothing is sent now (paper §5.3).
    return bad ? { actions: [], drop: bad } : { actions: [] };
  }

  // ---- sending ----

  private initiate(peer: Peer, now: number, retry: boolean): WgAction[] {
    if (!peer.endpoint) return [];
    if (!retry) {
      if (peer.timers.handshakeInFlight) return [];
      if (peer.lastInitiationSentMs !== undefined && now - peer.lastInitiationSentMs < this.c.rekeyTimeoutMs)
        return [];
    }
    this.dropHandshake(peer);
    const localIndex = this.allocateIndex();
    const init = createInitiation({
      local: this.local,
      peerPublicKey: peer.publicKey,
      ephemeral: this.ephemeral(),
      timestamp: tai64n(this.wallClock()),
      sender: localIndex,
      macs: peer.macs,
      nowMs: now,
    });
    if (!init.ok) return []; // setPeers refused low-order keys, so this cannot happen
    peer.handshake = { localIndex, state: init.state };
    this.indexes.set(localIndex, { peer });
    peer.lastInitiationSentMs = now;
    peer.timers.handshakeInitiated(now, retry);
    peer.timers.authenticatedSent();
    peer.timers.traversal(now);
    return [{ kind: 'send', peerId: peer.id, bytes: init.bytes, to: peer.endpoint }];
  }

  private keepalive(peer: Peer, now: number): WgAction[] {
    if (!peer.sessions.current) return this.initiate(peer, now, false);
    peer.timers.authenticatedSent();
    peer.timers.traversal(now);
    return [{ kind: 'keepalive', peerId: peer.id }];
  }

  // ---- bookkeeping ----

  private session(peer: Peer, slot: SessionSlot, sendKey: Uint8Array, recvKey: Uint8Array): WgSession {
    return {
      peerId: peer.id,
      localIndex: slot.localIndex,
      remoteIndex: slot.remoteIndex,
      sendKey,
      recvKey,
      isInitiator: slot.isInitiator,
      createdAtMs: slot.createdAtMs,
    };
  }

  private roam(peer: Peer, from: Endpoint): WgAction[] {
    if (sameEndpoint(peer.endpoint, from)) return [];
    peer.endpoint = { address: from.address, port: from.port };
    return [{ kind: 'endpoint', peerId: peer.id, endpoint: peer.endpoint }];
  }

  private expire(peer: Peer, slot: SessionSlot): WgAction[] {
    peer.sessions.remove(slot);
    return this.forget(peer, slot);
  }

  private forget(peer: Peer, slot: SessionSlot): WgAction[] {
    this.indexes.delete(slot.localIndex);
    return [{ kind: 'expire', peerId: peer.id, localIndex: slot.localIndex }];
  }

  private dropHandshake(peer: Peer): void {
    if (!peer.handshake) return;
    this.indexes.delete(peer.handshake.localIndex);
    peer.handshake.state.ephemeral.privateKey.fill(0);
    peer.handshake.state.ck.fill(0);
    peer.handshake = undefined;
  }

  private removePeer(peer: Peer): WgAction[] {
    const out: WgAction[] = [];
    for (const slot of peer.sessions.clear()) out.push(...this.forget(peer, slot));
    this.dropHandshake(peer);
    this.peers.delete(peer.id);
    return out;
  }

  /** A random 32-bit index not in use (the paper: random, so indices reveal nothing). */
  private allocateIndex(): number {
    for (let i = 0; i < 64; i++) {
      const b = this.o.random(4);
      const idx = ((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0) as number;
      if (!this.indexes.has(idx)) return idx;
    }
    throw new Error('64 random 32-bit indices were all taken: the random source is broken');
  }

  /** Uniform in [0, 1) from the injected random source. */
  private unit(): number {
    const b = this.o.random(2);
    return (b[0]! | (b[1]! << 8)) / 65536;
  }
}
