/** MAC1, MAC2 and cookie replies between a sender and a checker, with an injected clock. */
import { describe, expect, it } from 'vitest';
import { CookieChecker, MacSender } from './macs.js';
import { decodeCookieReply, encodeInitiation } from './messages.js';
import { keyPairFrom } from './keys.js';
import { mac } from './primitives.js';

const responder = keyPairFrom(new Uint8Array(32).fill(7));
const from = { address: '198.18.0.1', port: 51820 };
let seed = 1;
const random = (n: number) =>
  Uint8Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff);

function initiation(): Uint8Array {
  return encodeInitiation({
    sender: 42,
    ephemeral: new Uint8Array(32).fill(1),
    encryptedStatic: new Uint8Array(48).fill(2),
    encryptedTimestamp: new Uint8Array(28).fill(3),
    mac1: new Uint8Array(16),
    mac2: new Uint8Array(16),
  });
}

describe('MAC1', () => {
  it('is keyed BLAKE2s-128 under HASH("mac1----" ‖ receiver public key) over the bytes before it', () => {
    const msg = initiation();
    new MacSender(responder.publicKey).sign(msg, 0);
    const checker = new CookieChecker(responder.publicKey, random);
    expect(checker.checkMac1(msg)).toBe(true);
    expect(msg.subarray(132).every((b) => b === 0)).toBe(true); // no cookie yet: mac2 zero
    const other = new CookieChecker(keyPairFrom(new Uint8Array(32).fill(8)).publicKey, random);
    expect(other.checkMac1(msg)).toBe(false);
    for (const at of [0, 4, 8, 40, 88, 115, 116, 131]) {
      const bad = Uint8Array.from(msg);
      bad[at]! ^= 1;
      expect(checker.checkMac1(bad)).toBe(false);
    }
  });
});

describe('cookie reply and MAC2', () => {
  it('a cookie reply carries a cookie that makes the next MAC2 valid from the same source only', () => {
    const sender = new MacSender(responder.publicKey);
    const checker = new CookieChecker(responder.publicKey, random);
    const first = initiation();
    sender.sign(first, 1000);
    expect(checker.checkMac2(first, from, 1000)).toBe(false);
    const replyBytes = checker.makeReply(first, 42, from, 1000);
    expect(replyBytes.length).toBe(64);
    const reply = decodeCookieReply(replyBytes);
    if (!reply.ok) throw new Error(reply.reason);
    expect(reply.msg.receiver).toBe(42);
    expect(sender.consumeCookieReply(reply.msg, 1500)).toBeUndefined();

    const second = initiation();
    sender.sign(second, 2000);
    expect(checker.checkMac1(second)).toBe(true);
    expect(checker.checkMac2(second, from, 2000)).toBe(true);
    expect(checker.checkMac2(second, { ...from, port: 51821 }, 2000)).toBe(false);
    expect(checker.checkMac2(second, { ...from, address: '198.18.0.2' }, 2000)).toBe(false);
    const tampered = Uint8Array.from(second);
    tampered[147]! ^= 1;
    expect(checker.checkMac2(tampered, from, 2000)).toBe(false);
  });

  it('a reply to another message (wrong aad) or from another responder is refused', () => {
    const sender = new MacSender(responder.publicKey);
    const checker = new CookieChecker(responder.publicKey, random);
    const first = initiation();
    sender.sign(first, 0);
    const reply = decodeCookieReply(checker.makeReply(first, 42, from, 0));
    if (!reply.ok) throw new Error(reply.reason);
    const later = initiation();
    later[8] = 9; // a different message, hence a different mac1
    sender.sign(later, 0);
    expect(sender.consumeCookieReply(reply.msg, 0)).toBe('bad_cookie');
    expect(new MacSender(new Uint8Array(32).fill(9)).consumeCookieReply(reply.msg, 0)).toBe(
      'unknown_receiver',
    );
  });

  it('the sender stops using a cookie 120 s after receiving it', () => {
    const sender = new MacSender(responder.publicKey);
    const checker = new CookieChecker(responder.publicKey, random);
    const first = initiation();
    sender.sign(first, 0);
    const reply = decodeCookieReply(checker.makeReply(first, 42, from, 0));
    if (!reply.ok) throw new Error(reply.reason);
    sender.consumeCookieReply(reply.msg, 0);
    const stale = initiation();
    sender.sign(stale, 120_000);
    expect(stale.subarray(132).every((b) => b === 0)).toBe(true);
  });

  it('the checker renews its secret after 120 s, so old cookies stop validating', () => {
    const sender = new MacSender(responder.publicKey);
    const checker = new CookieChecker(responder.publicKey, random);
    const first = initiation();
    sender.sign(first, 0);
    const reply = decodeCookieReply(checker.makeReply(first, 42, from, 0));
    if (!reply.ok) throw new Error(reply.reason);
    sender.consumeCookieReply(reply.msg, 100_000);
    const msg = initiation();
    sender.sign(msg, 110_000);
    expect(checker.checkMac2(msg, from, 110_000)).toBe(true);
    expect(checker.checkMac2(msg, from, 120_000)).toBe(false);
    // A reply made after renewal carries a cookie under the new secret.
    const again = decodeCookieReply(checker.makeReply(msg, 42, from, 121_000));
    if (!again.ok) throw new Error(again.reason);
    sender.consumeCookieReply(again.msg, 121_000);
    const fresh = initiation();
    sender.sign(fresh, 122_000);
    expect(checker.checkMac2(fresh, from, 122_000)).toBe(true);
  });

  it('mac2 is MAC(cookie, bytes before mac2)', () => {
    // Independent recomputation of the paper's formula from the decrypted cookie.
    const sender = new MacSender(responder.publicKey);
    const checker = new CookieChecker(responder.publicKey, random);
    const first = initiation();
    sender.sign(first, 0);
    const reply = decodeCookieReply(checker.makeReply(first, 42, from, 0));
    if (!reply.ok) throw new Error(reply.reason);
    sender.consumeCookieReply(reply.msg, 0);
    const msg = initiation();
    sender.sign(msg, 0);
    const cookie = (sender as unknown as { cookie: Uint8Array }).cookie;
    expect(Buffer.from(msg.subarray(132)).toString('hex')).toBe(
      Buffer.from(mac(cookie, msg.subarray(0, 132))).toString('hex'),
    );
  });
});
