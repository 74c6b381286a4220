/**
 * Known answers from an implementation no one here wrote: a handshake and transport data captured
 * live against Debian's wireguard-go (fixtures/README.md says how). Our code must read its messages
 * and, given the same ephemeral keys, indices and timestamp, produce byte for byte the messages it
 * accepted.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WgControlPlane } from './control.js';
import { consumeInitiation, consumeResponse, createInitiation, createResponse } from './handshake.js';
import { keyPairFrom } from './keys.js';
import { CookieChecker, MacSender } from './macs.js';
import { decodeInitiation, decodeResponse, decodeTransportHeader } from './messages.js';
import { aeadOpen, aeadSeal } from './primitives.js';
import { tai64n, tai64nToMs } from './tai64n.js';

const F = JSON.parse(
  readFileSync(new URL('./fixtures/wireguard-go-handshake.json', import.meta.url), 'utf8'),
) as Record<string, string | number>;
const bytes = (k: string) => new Uint8Array(Buffer.from(F[k] as string, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const EMPTY = new Uint8Array(0);
const wgGo = keyPairFrom(bytes('wireguardGoPrivateKey'));
const ours = keyPairFrom(bytes('oursPrivateKey'));

function openTransport(key: Uint8Array, msg: Uint8Array, receiver: number): Uint8Array {
  const h = decodeTransportHeader(msg);
  if (!h.ok) throw new Error(h.reason);
  expect(h.msg.receiver).toBe(receiver);
  const plain = aeadOpen(key, h.msg.counter, msg.subarray(16), EMPTY);
  if (!plain) throw new Error('did not authenticate');
  return plain;
}

describe('wireguard-go as initiator', () => {
  const init = decodeInitiation(bytes('initiation'));
  if (!init.ok) throw new Error(init.reason);

  it('its initiation has a valid MAC1 for our key and decrypts to its static key and a timestamp', () => {
    expect(new CookieChecker(ours.publicKey, () => new Uint8Array(32)).checkMac1(bytes('initiation'))).toBe(
      true,
    );
    expect(hex(init.msg.mac2)).toBe('0'.repeat(32));
    const r = consumeInitiation({ local: ours, msg: init.msg, isKnownPeer: () => true });
    if (!r.ok) throw new Error(r.reason);
    expect(hex(r.peerPublicKey)).toBe(hex(wgGo.publicKey));
    const when = tai64nToMs(r.timestamp);
    expect(when).toBeGreaterThan(Date.UTC(2026, 0, 1));
    expect(when).toBeLessThan(Date.UTC(2030, 0, 1));
  });

  it('our response, rebuilt from the recorded ephemeral, is the one it accepted; its data decrypts', () => {
    const r = consumeInitiation({ local: ours, msg: init.msg, isKnownPeer: () => true });
    if (!r.ok) throw new Error(r.reason);
    const resp = createResponse({
      state: r.state,
      ephemeral: keyPairFrom(bytes('responseEphemeral')),
      psk: new Uint8Array(32),
      sender: F.responseLocalIndex as number,
      receiver: init.msg.sender,
      macs: new MacSender(wgGo.publicKey),
      nowMs: 0,
    });
    if (!resp.ok) throw new Error(resp.reason);
    expect(hex(resp.bytes)).toBe(F.response);
    const ping = openTransport(
      resp.keys.initiatorSend,
      bytes('transportFromWireguardGo'),
      F.responseLocalIndex as number,
    );
    expect(ping[0]! >> 4).toBe(4);
    expect(ping[9]).toBe(1);
    expect(ping[20]).toBe(8);
    expect([...ping.subarray(12, 20)]).toEqual([10, 99, 0, 1, 10, 99, 0, 2]);
    // Our reply, sealed again, is the recorded one (counter 0, empty AAD, padded to 16).
    const sent = bytes('transportToWireguardGo');
    const plain = openTransport(resp.keys.responderSend, sent, init.msg.sender);
    expect(plain.length % 16).toBe(0);
    expect(hex(aeadSeal(resp.keys.responderSend, 0n, plain, EMPTY))).toBe(hex(sent.subarray(16)));
  });

  it('the control plane accepts it once, refuses its replay, and asks for a cookie under load', () => {
    let loaded = false;
    let n = 0;
    const cp = new WgControlPlane({
      privateKey: ours.privateKey,
      now: () => 1000,
      random: (k) => Uint8Array.from({ length: k }, () => (n = (n * 73 + 41) & 0xff)),
      underLoad: () => loaded,
    });
    cp.setPeers([{ publicKey: wgGo.publicKey, allowedIps: ['10.99.0.1/32'] }]);
    const from = { address: '127.0.0.1', port: 51820 };
    loaded = true;
    expect(cp.receiveHandshake(bytes('initiation'), from).drop).toBe('cookie_sent');
    loaded = false;
    expect(cp.receiveHandshake(bytes('initiation'), from).drop).toBeUndefined();
    expect(cp.receiveHandshake(bytes('initiation'), from).drop).toBe('replayed_initiation');
  });
});

describe('wireguard-go as responder', () => {
  it('our initiation rebuilt from the recorded inputs is the one it answered; its response gives the keys', () => {
    const init = createInitiation({
      local: ours,
      peerPublicKey: wgGo.publicKey,
      ephemeral: keyPairFrom(bytes('initiationEphemeral')),
      timestamp: tai64n(F.initiationWallClockMs as number),
      sender: F.ourInitiationLocalIndex as number,
      macs: new MacSender(wgGo.publicKey),
      nowMs: 0,
    });
    if (!init.ok) throw new Error(init.reason);
    expect(hex(init.bytes)).toBe(F.ourInitiation);

    const respBytes = bytes('wireguardGoResponse');
    expect(new CookieChecker(ours.publicKey, () => new Uint8Array(32)).checkMac1(respBytes)).toBe(true);
    const resp = decodeResponse(respBytes);
    if (!resp.ok) throw new Error(resp.reason);
    expect(resp.msg.receiver).toBe(F.ourInitiationLocalIndex);
    const r = consumeResponse({ state: init.state, msg: resp.msg, psk: new Uint8Array(32) });
    if (!r.ok) throw new Error(r.reason);
    const ours2 = bytes('ourTransport');
    const request = openTransport(r.keys.initiatorSend, ours2, resp.msg.sender);
    expect(request[20]).toBe(8);
    const echo = openTransport(
      r.keys.responderSend,
      bytes('wireguardGoEchoReply'),
      F.ourInitiationLocalIndex as number,
    );
    expect(echo[20]).toBe(0);
    expect(new TextDecoder().decode(echo.subarray(28, 56))).toBe('overlayd wg-protocol interop');
  });

  it('a flipped byte anywhere in its response is refused', () => {
    const init = createInitiation({
      local: ours,
      peerPublicKey: wgGo.publicKey,
      ephemeral: keyPairFrom(bytes('initiationEphemeral')),
      timestamp: tai64n(F.initiationWallClockMs as number),
      sender: F.ourInitiationLocalIndex as number,
      macs: new MacSender(wgGo.publicKey),
      nowMs: 0,
    });
    if (!init.ok) throw new Error(init.reason);
    for (const at of [12, 30, 44, 59]) {
      const t = bytes('wireguardGoResponse');
      t[at]! ^= 1;
      const d = decodeResponse(t);
      if (!d.ok) throw new Error(d.reason);
      expect(consumeResponse({ state: init.state, msg: d.msg, psk: new Uint8Array(32) })).toEqual({
        ok: false,
        reason: 'bad_response',
      });
    }
  });
});
