/**
 * The handshake against an independent implementation's bytes: cacophony's (Haskell) test vector
 * for Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, copied from
 * github.com/haskell-cryptography/cacophony vectors/cacophony.txt (prologue "John Galt", one psk,
 * six messages: the two handshake messages, then four transport messages alternating directions).
 * WireGuard is this protocol with prologue = its Identifier, so running the vector with the
 * vector's prologue checks every KDF, DH, AEAD and hash step of WireGuard's handshake.
 */
import { describe, expect, it } from 'vitest';
import { keyPairFrom } from './keys.js';
import { readInitiation, readResponse, writeInitiation, writeResponse } from './noise.js';
import { aeadOpen, aeadSeal } from './primitives.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));

const V = {
  prologue: hex('4a6f686e2047616c74'),
  psk: hex('54686973206973206d7920417573747269616e20706572737065637469766521'),
  initStatic: hex('e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1'),
  initEphemeral: hex('893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a'),
  initRemoteStatic: '31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62',
  respStatic: hex('4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893'),
  respEphemeral: hex('bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b'),
  handshakeHash: 'f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5',
  messages: [
    [
      '4c756477696720766f6e204d69736573',
      'ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441eba616548e832985464cf17e51ee93109008399a21f7e13f',
    ],
    [
      '4d757272617920526f746862617264',
      '95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572dab0322217755c0632f365717edbf34d33e87a',
    ],
    ['462e20412e20486179656b', '8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7'],
    ['4361726c204d656e676572', '07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef'],
    [
      '4a65616e2d426170746973746520536179',
      '6ab1467c0448cc78394494abaaf23afce0e234315d6e2624dcbfa8a21c1c4d073d',
    ],
    [
      '457567656e2042f6686d20766f6e2042617765726b',
      'dfc346c0d2296ae6cf1acf6f12b8456a1dba228cf8d8b774aacf1c47fc53aa80ebc7a4c292',
    ],
  ] as const,
};

describe('Noise_IKpsk2 against cacophony', () => {
  const initiator = keyPairFrom(V.initStatic);
  const responder = keyPairFrom(V.respStatic);

  it('derives the responder public key the vector names', () => {
    expect(toHex(responder.publicKey)).toBe(V.initRemoteStatic);
  });

  it('writes both handshake messages byte for byte and both sides read them', () => {
    const [m0, m1] = V.messages;
    const w = writeInitiation({
      local: initiator,
      remoteStatic: responder.publicKey,
      ephemeral: keyPairFrom(V.initEphemeral),
      payload: hex(m0[0]),
      prologue: V.prologue,
    });
    if (!w.ok) throw new Error(w.reason);
    const p = w.parts;
    expect(toHex(cat(p.ephemeral, p.encryptedStatic, p.encryptedPayload))).toBe(m0[1]);

    const r = readInitiation({ local: responder, parts: p, prologue: V.prologue });
    if (!r.ok) throw new Error(r.reason);
    expect(toHex(r.state.payload)).toBe(m0[0]);
    expect(toHex(r.state.remoteStatic)).toBe(toHex(initiator.publicKey));

    const resp = writeResponse({
      state: r.state,
      ephemeral: keyPairFrom(V.respEphemeral),
      psk: V.psk,
      payload: hex(m1[0]),
    });
    if (!resp.ok) throw new Error(resp.reason);
    expect(toHex(cat(resp.parts.ephemeral, resp.parts.encryptedPayload))).toBe(m1[1]);
    expect(toHex(resp.h)).toBe(V.handshakeHash);

    const back = readResponse({ state: w.state, parts: resp.parts, psk: V.psk });
    if (!back.ok) throw new Error(back.reason);
    expect(toHex(back.payload)).toBe(m1[0]);
    expect(toHex(back.h)).toBe(V.handshakeHash);
    expect(toHex(back.keys.initiatorSend)).toBe(toHex(resp.keys.initiatorSend));
    expect(toHex(back.keys.responderSend)).toBe(toHex(resp.keys.responderSend));

    // Transport: messages 2..5 alternate initiator/responder, each direction counting from 0.
    const counters = [0n, 0n];
    for (let i = 2; i < V.messages.length; i++) {
      const [plain, sealed] = V.messages[i]!;
      const fromInitiator = i % 2 === 0;
      const key = fromInitiator ? back.keys.initiatorSend : resp.keys.responderSend;
      const n = counters[fromInitiator ? 0 : 1]!;
      counters[fromInitiator ? 0 : 1] = n + 1n;
      expect(toHex(aeadSeal(key, n, hex(plain), new Uint8Array(0)))).toBe(sealed);
      expect(toHex(aeadOpen(key, n, hex(sealed), new Uint8Array(0))!)).toBe(plain);
    }
  });

  it('refuses a response sealed under another psk', () => {
    const w = writeInitiation({
      local: initiator,
      remoteStatic: responder.publicKey,
      ephemeral: keyPairFrom(V.initEphemeral),
      payload: new Uint8Array(12),
    });
    if (!w.ok) throw new Error(w.reason);
    const r = readInitiation({ local: responder, parts: w.parts });
    if (!r.ok) throw new Error(r.reason);
    const resp = writeResponse({ state: r.state, ephemeral: keyPairFrom(V.respEphemeral), psk: V.psk });
    if (!resp.ok) throw new Error(resp.reason);
    const back = readResponse({ state: w.state, parts: resp.parts, psk: new Uint8Array(32) });
    expect(back).toEqual({ ok: false, reason: 'bad_response' });
  });
});
