/**
 * The control plane's handshakes between two instances on a fake clock: the round trip and its
 * keys, every tampered field refused with its reason, replays and floods, cookies under load,
 * roaming, peer changes, and determinism under injected randomness.
 */
import { describe, expect, it } from 'vitest';
import {
  FakeClock,
  handshake,
  hex,
  kinds,
  makeNode,
  sends,
  sessions,
} from '../../../test/support/wg-control-harness.js';
import { aeadOpen, aeadSeal, hash, mac } from './primitives.js';
import { decodeInitiation } from './messages.js';

/** Recomputes mac1 for `receiverPublic` after a deliberate change, so deeper checks are reached. */
function remac(bytes: Uint8Array, receiverPublic: Uint8Array): Uint8Array {
  const key = hash(new TextEncoder().encode('mac1----'), receiverPublic);
  const out = Uint8Array.from(bytes);
  out.set(mac(key, out.subarray(0, out.length - 32)), out.length - 32);
  return out;
}

function pair(seedA = 1, seedB = 2) {
  const clock = new FakeClock();
  const a = makeNode(clock, seedA, '198.18.0.1');
  const b = makeNode(clock, seedB, '198.18.0.2');
  a.cp.setPeers([{ publicKey: b.publicKey, endpoint: b.address, allowedIps: ['10.1.2.0/24'] }]);
  b.cp.setPeers([{ publicKey: a.publicKey, endpoint: a.address, allowedIps: ['10.1.1.0/24'] }]);
  return { clock, a, b };
}

describe('handshake round trip', () => {
  it('derives mirrored keys, confirms the responder on first data, and the keys carry data', () => {
    const { a, b } = pair();
    const [init] = sends(a.cp.wantSession(b.id));
    expect(init!.bytes.length).toBe(148);
    expect(init!.to).toEqual(b.address);
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    expect(r.drop).toBeUndefined();
    expect(kinds(r.actions)).toEqual(['session', 'send']);
    const [respSession] = sessions(r.actions);
    expect(r.actions[0]).toMatchObject({ kind: 'session', sendable: false });
    const [response] = sends(r.actions);
    expect(response!.bytes.length).toBe(92);

    const back = a.cp.receiveHandshake(response!.bytes, b.address);
    expect(back.drop).toBeUndefined();
    expect(kinds(back.actions)).toEqual(['session', 'keepalive']);
    expect(back.actions[0]).toMatchObject({ kind: 'session', sendable: true });
    const [initSession] = sessions(back.actions);
    expect(hex(initSession!.sendKey)).toBe(hex(respSession!.recvKey));
    expect(hex(initSession!.recvKey)).toBe(hex(respSession!.sendKey));
    expect(hex(initSession!.sendKey)).not.toBe(hex(initSession!.recvKey));
    expect(initSession!.remoteIndex).toBe(respSession!.localIndex);
    expect(respSession!.remoteIndex).toBe(initSession!.localIndex);
    expect(initSession!.isInitiator).toBe(true);

    const sealed = aeadSeal(initSession!.sendKey, 0n, new TextEncoder().encode('ping'), new Uint8Array(0));
    expect(new TextDecoder().decode(aeadOpen(respSession!.recvKey, 0n, sealed, new Uint8Array(0))!)).toBe(
      'ping',
    );

    const confirm = b.cp.noteTransportReceived(respSession!.localIndex, a.address, true);
    expect(confirm).toEqual([{ kind: 'confirm', peerId: a.id, localIndex: respSession!.localIndex }]);
    expect(b.cp.peer(a.id)!.currentIndex).toBe(respSession!.localIndex);
    expect(b.cp.noteTransportReceived(respSession!.localIndex, a.address)).toEqual([]);
  });

  it('is deterministic under the same injected randomness, different under another', () => {
    const one = pair(1, 2);
    const two = pair(1, 2);
    const [x] = sends(one.a.cp.wantSession(one.b.id));
    const [y] = sends(two.a.cp.wantSession(two.b.id));
    expect(hex(x!.bytes)).toBe(hex(y!.bytes));
    const three = pair(3, 2);
    three.b.cp.setPeers([{ publicKey: three.a.publicKey, allowedIps: [] }]);
    const [z] = sends(three.a.cp.wantSession(three.b.id));
    expect(hex(z!.bytes.subarray(4, 40))).not.toBe(hex(x!.bytes.subarray(4, 40)));
  });

  it('a second handshake rotates current → previous and expires the one before', () => {
    const { clock, a, b } = pair();
    const first = handshake(a, b);
    clock.advance(6_000);
    const second = handshake(a, b);
    clock.advance(6_000);
    const [init] = sends(a.cp.wantSession(b.id));
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    const back = a.cp.receiveHandshake(sends(r.actions)[0]!.bytes, b.address);
    expect(back.actions).toContainEqual({ kind: 'expire', peerId: b.id, localIndex: first.init.localIndex });
    expect(back.actions).not.toContainEqual({
      kind: 'expire',
      peerId: b.id,
      localIndex: second.init.localIndex,
    });
    const [third] = sessions(r.actions);
    const confirm = b.cp.noteTransportReceived(third!.localIndex, a.address, true);
    expect(confirm).toContainEqual({ kind: 'expire', peerId: a.id, localIndex: first.resp.localIndex });
    expect(confirm).toContainEqual({ kind: 'confirm', peerId: a.id, localIndex: third!.localIndex });
  });
});

describe('initiations refused', () => {
  it('a replayed initiation is refused (TAI64N not newer), also after the clock moves on', () => {
    const { clock, a, b } = pair();
    const [init] = sends(a.cp.wantSession(b.id));
    expect(b.cp.receiveHandshake(init!.bytes, a.address).drop).toBeUndefined();
    clock.advance(1_000);
    expect(b.cp.receiveHandshake(init!.bytes, a.address)).toEqual({
      actions: [],
      drop: 'replayed_initiation',
    });
  });

  it('initiations faster than the rate limit are refused as a flood', () => {
    const { clock, a, b } = pair();
    const [first] = sends(a.cp.wantSession(b.id));
    expect(b.cp.receiveHandshake(first!.bytes, a.address).drop).toBeUndefined();
    // A newer timestamp (wall clock 1 s on) from a second instance with a's key, 10 ms later.
    clock.wall += 1_000;
    clock.ms += 10;
    const a2 = makeNode(clock, 1, '198.18.0.1');
    a2.cp.setPeers([{ publicKey: b.publicKey, endpoint: b.address, allowedIps: [] }]);
    const [second] = sends(a2.cp.wantSession(b.id));
    expect(b.cp.receiveHandshake(second!.bytes, a.address).drop).toBe('initiation_flood');
    clock.ms += 20;
    expect(b.cp.receiveHandshake(second!.bytes, a.address).drop).toBeUndefined();
  });

  it('every tampered field is refused with its own reason', () => {
    const { a, b } = pair();
    const [init] = sends(a.cp.wantSession(b.id));
    const bytes = init!.bytes;
    const flip = (at: number) => {
      const t = Uint8Array.from(bytes);
      t[at]! ^= 0x01;
      return t;
    };
    const reason = (t: Uint8Array) => b.cp.receiveHandshake(t, a.address).drop;
    expect(reason(flip(0))).toBe('unknown_type');
    expect(reason(flip(1))).toBe('unknown_type');
    expect(reason(bytes.subarray(0, 147))).toBe('truncated');
    expect(reason(new Uint8Array([...bytes, 0]))).toBe('bad_length');
    // mac1 covers every byte before it.
    for (let at = 4; at < 132; at += 7) expect(reason(flip(at))).toBe('bad_mac1');
    // With mac1 recomputed, the Noise checks answer.
    expect(reason(remac(flip(10), b.publicKey))).toBe('bad_static'); // ephemeral
    expect(reason(remac(flip(50), b.publicKey))).toBe('bad_static'); // encrypted static
    expect(reason(remac(flip(100), b.publicKey))).toBe('bad_timestamp'); // encrypted timestamp
    const lowOrder = Uint8Array.from(bytes);
    lowOrder.fill(0, 8, 40);
    expect(reason(remac(lowOrder, b.publicKey))).toBe('bad_ephemeral');
    // mac2 is not checked when not under load: a flipped mac2 still handshakes.
    expect(reason(flip(140))).toBeUndefined();
  });

  it('an initiation from a key that is not a peer is refused as unknown_peer', () => {
    const { clock, a, b } = pair();
    const stranger = makeNode(clock, 9, '198.18.0.9');
    stranger.cp.setPeers([{ publicKey: b.publicKey, endpoint: b.address, allowedIps: [] }]);
    const [init] = sends(stranger.cp.wantSession(b.id));
    expect(b.cp.receiveHandshake(init!.bytes, stranger.address).drop).toBe('unknown_peer');
    expect(a).toBeDefined();
  });

  it('an initiation meant for another interface fails mac1', () => {
    const { clock, a } = pair();
    const c = makeNode(clock, 3, '198.18.0.3');
    c.cp.setPeers([{ publicKey: a.publicKey, allowedIps: [] }]);
    const [init] = sends(a.cp.wantSession(makeNode(clock, 2, 'x').id));
    expect(c.cp.receiveHandshake(init!.bytes, a.address).drop).toBe('bad_mac1');
  });
});

describe('responses refused', () => {
  it('tampered, unknown or repeated responses are refused with reasons', () => {
    const { a, b } = pair();
    const [init] = sends(a.cp.wantSession(b.id));
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    const response = sends(r.actions)[0]!.bytes;
    const flip = (at: number) => {
      const t = Uint8Array.from(response);
      t[at]! ^= 0x01;
      return t;
    };
    const reason = (t: Uint8Array) => a.cp.receiveHandshake(t, b.address).drop;
    expect(reason(response.subarray(0, 91))).toBe('truncated');
    for (let at = 4; at < 60; at += 5) expect(reason(flip(at))).toBe('bad_mac1');
    expect(reason(remac(flip(8), a.publicKey))).toBe('unknown_receiver'); // receiver index
    expect(reason(remac(flip(20), a.publicKey))).toBe('bad_response'); // ephemeral
    expect(reason(remac(flip(50), a.publicKey))).toBe('bad_response'); // encrypted nothing
    expect(reason(response)).toBeUndefined();
    expect(reason(response)).toBe('unknown_receiver'); // the handshake is over
  });

  it('a response under the wrong preshared key is refused', () => {
    const { a, b } = pair();
    b.cp.setPeers([{ publicKey: a.publicKey, presharedKey: new Uint8Array(32).fill(5), allowedIps: [] }]);
    const [init] = sends(a.cp.wantSession(b.id));
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    expect(a.cp.receiveHandshake(sends(r.actions)[0]!.bytes, b.address).drop).toBe('bad_response');
  });

  it('matching preshared keys handshake', () => {
    const { a, b } = pair();
    const psk = new Uint8Array(32).fill(5);
    a.cp.setPeers([{ publicKey: b.publicKey, presharedKey: psk, endpoint: b.address, allowedIps: [] }]);
    b.cp.setPeers([{ publicKey: a.publicKey, presharedKey: psk, allowedIps: [] }]);
    const { init, resp } = handshake(a, b);
    expect(hex(init.sendKey)).toBe(hex(resp.recvKey));
  });
});

describe('under load', () => {
  it('answers with a cookie reply, then accepts the retransmit whose mac2 carries the cookie', () => {
    const { clock, a, b } = pair();
    b.loaded.value = true;
    const [init] = sends(a.cp.wantSession(b.id));
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    expect(r.drop).toBe('cookie_sent');
    const [reply] = sends(r.actions);
    expect(reply!.bytes.length).toBe(64);
    expect(reply!.to).toEqual(a.address);
    expect(reply!.peerId).toBeUndefined();
    // A forged cookie reply is refused; the real one is taken silently.
    const forged = Uint8Array.from(reply!.bytes);
    forged[40]! ^= 1;
    expect(a.cp.receiveHandshake(forged, b.address)).toEqual({ actions: [], drop: 'bad_cookie' });
    expect(a.cp.receiveHandshake(reply!.bytes, b.address)).toEqual({ actions: [] });

    clock.advance(a.cp.nextDeadline()! - clock.ms);
    const [retry] = sends(a.cp.tick());
    expect(retry).toBeDefined();
    const again = b.cp.receiveHandshake(retry!.bytes, a.address);
    expect(again.drop).toBeUndefined();
    expect(kinds(again.actions)).toEqual(['session', 'send']);
    // The cookie is bound to the source: the same bytes from elsewhere get a cookie reply.
    const other = makeNode(clock, 1, '198.18.0.1');
    expect(other).toBeDefined();
    const moved = b.cp.receiveHandshake(retry!.bytes, { address: '198.18.0.77', port: 51820 });
    expect(moved.drop).toBe('cookie_sent');
  });

  it('a cookie reply for no handshake of ours is refused', () => {
    const { a, b } = pair();
    b.loaded.value = true;
    const [init] = sends(a.cp.wantSession(b.id));
    const reply = sends(b.cp.receiveHandshake(init!.bytes, a.address).actions)[0]!.bytes;
    const wrong = Uint8Array.from(reply);
    wrong[4]! ^= 1;
    expect(a.cp.receiveHandshake(wrong, b.address).drop).toBe('unknown_receiver');
  });
});

describe('endpoints and peers', () => {
  it('learns a peer’s endpoint from authenticated initiations and transport data only', () => {
    const { a, b } = pair();
    b.cp.setPeers([{ publicKey: a.publicKey, allowedIps: [] }]); // b knows no endpoint for a
    const [init] = sends(a.cp.wantSession(b.id));
    const moved = { address: '203.0.113.5', port: 40000 };
    const r = b.cp.receiveHandshake(init!.bytes, moved);
    expect(r.actions).toContainEqual({ kind: 'endpoint', peerId: a.id, endpoint: moved });
    expect(sends(r.actions)[0]!.to).toEqual(moved);
    const [resp] = sessions(r.actions);
    const later = { address: '203.0.113.6', port: 40001 };
    expect(b.cp.noteTransportReceived(resp!.localIndex, later)).toContainEqual({
      kind: 'endpoint',
      peerId: a.id,
      endpoint: later,
    });
    expect(b.cp.peer(a.id)!.endpoint).toEqual(later);
    // Unauthenticated bytes from a third address change nothing.
    b.cp.receiveHandshake(
      new Uint8Array(148).fill(0).map((_, i) => (i === 0 ? 1 : 0)),
      moved,
    );
    expect(b.cp.peer(a.id)!.endpoint).toEqual(later);
  });

  it('removing a peer expires its sessions; refuses duplicate and own keys in one line', () => {
    const { a, b } = pair();
    const { init } = handshake(a, b);
    expect(a.cp.setPeers([])).toEqual([{ kind: 'expire', peerId: b.id, localIndex: init.localIndex }]);
    expect(a.cp.peer(b.id)).toBeUndefined();
    const peer = { publicKey: b.publicKey, allowedIps: [] };
    expect(() => a.cp.setPeers([peer, peer])).toThrow(/^peer .*: listed twice/);
    expect(() => a.cp.setPeers([{ publicKey: a.publicKey, allowedIps: [] }])).toThrow(/own public key/);
    expect(() => a.cp.setPeers([{ publicKey: new Uint8Array(32), allowedIps: [] }])).toThrow(/low-order/);
  });

  it('decodes its own initiation sender as the index it allocated', () => {
    const { a, b } = pair();
    const [init] = sends(a.cp.wantSession(b.id));
    const d = decodeInitiation(init!.bytes);
    if (!d.ok) throw new Error(d.reason);
    const r = b.cp.receiveHandshake(init!.bytes, a.address);
    expect(sessions(r.actions)[0]!.remoteIndex).toBe(d.msg.sender);
  });
});
