/**
 * MAC1, MAC2 and cookie replies (paper §5.3, §5.4.4, §5.4.7): the DoS defence of handshakes.
 *   mac1 = MAC(HASH("mac1----" ‖ Spub_receiver), msg up to mac1)   always; proves the sender knows
 *          whom it addresses, so a responder drops noise without any DH
 *   mac2 = MAC(cookie, msg up to mac2)                             only with a cookie < 120 s old
 *   cookie = MAC(Rm, sender IP ‖ port), Rm a random secret renewed every 120 s
 *   reply  = receiver index, 24-byte nonce, XAEAD(HASH("cookie--" ‖ Spub_responder), nonce, cookie,
 *            aad = the mac1 being answered)
 * Under load, a responder answers an initiation (or response) whose mac2 is not valid with a cookie
 * reply instead of doing DH; the sender puts the cookie in mac2 of its next attempt, which proves it
 * owns its source address.
 */
import { equalBytes, hash, mac, MAC_LEN, xaeadOpen, xaeadSeal } from './primitives.js';
import { encodeCookieReply, type CookieReply, type WgDropReason } from './messages.js';

const LABEL_MAC1 = new TextEncoder().encode('mac1----');
const LABEL_COOKIE = new TextEncoder().encode('cookie--');
/** The paper's COOKIE lifetime and secret renewal period alike. */
export const COOKIE_REFRESH_MS = 120_000;
const NONCE_BYTES = 24;

/** A UDP source as the socket reports it. */
export interface Endpoint {
  address: string;
  port: number;
}

function sourceBytes(from: Endpoint): Uint8Array {
  // Only we compute and check our cookies, so any injective encoding of the source is correct.
  return new TextEncoder().encode(`${from.address}\u0000${from.port}`);
}

function macOffsets(msg: Uint8Array): { mac1: number; mac2: number } {
  return { mac1: msg.length - 2 * MAC_LEN, mac2: msg.length - MAC_LEN };
}

/**
 * The macs of the messages we send to one peer, and the cookie it last gave us. One per peer.
 */
export class MacSender {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private cookie: Uint8Array | undefined;
  private cookieAtMs = 0;
  private lastMac1: Uint8Array | undefined;

  constructor(peerPublicKey: Uint8Array) {
    this.mac1Key = hash(LABEL_MAC1, peerPublicKey);
    this.cookieKey = hash(LABEL_COOKIE, peerPublicKey);
  }

  /** Fills mac1 and mac2 of an initiation or response (its last 32 bytes) in place. */
  sign(msg: Uint8Array, nowMs: number): void {
    const o = macOffsets(msg);
    const m1 = mac(this.mac1Key, msg.subarray(0, o.mac1));
    msg.set(m1, o.mac1);
    this.lastMac1 = m1;
    if (this.cookie && nowMs - this.cookieAtMs < COOKIE_REFRESH_MS)
      msg.set(mac(this.cookie, msg.subarray(0, o.mac2)), o.mac2);
    else msg.fill(0, o.mac2);
  }

  /** Takes the cookie of a reply to our last signed message; the next sign() carries it in mac2. */
  consumeCookieReply(reply: CookieReply, nowMs: number): WgDropReason | undefined {
    if (!this.lastMac1) return 'unknown_receiver';
    const cookie = xaeadOpen(this.cookieKey, reply.nonce, reply.encryptedCookie, this.lastMac1);
    if (!cookie || cookie.length !== MAC_LEN) return 'bad_cookie';
    this.cookie = cookie;
    this.cookieAtMs = nowMs;
    return undefined;
  }
}

/**
 * The receiving side, one per interface: checks mac1/mac2 of incoming handshake messages and makes
 * cookie replies. The secret is drawn from the injected `random` and renewed when 120 s old.
 */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private secret: Uint8Array | undefined;
  private secretAtMs = 0;

  constructor(
    localPublicKey: Uint8Array,
    private readonly random: (n: number) => Uint8Array,
  ) {
    this.mac1Key = hash(LABEL_MAC1, localPublicKey);
    this.cookieKey = hash(LABEL_COOKIE, localPublicKey);
  }

  checkMac1(msg: Uint8Array): boolean {
    const o = macOffsets(msg);
    return equalBytes(mac(this.mac1Key, msg.subarray(0, o.mac1)), msg.subarray(o.mac1, o.mac2));
  }

  /** True if mac2 is the cookie of this source under the current secret. */
  checkMac2(msg: Uint8Array, from: Endpoint, nowMs: number): boolean {
    if (!this.secret || nowMs - this.secretAtMs >= COOKIE_REFRESH_MS) return false;
    const o = macOffsets(msg);
    const cookie = mac(this.secret, sourceBytes(from));
    return equalBytes(mac(cookie, msg.subarray(0, o.mac2)), msg.subarray(o.mac2));
  }

  /** The cookie reply to `msg` (whose mac1 was valid) from `from`; `receiver` = msg's sender index. */
  makeReply(msg: Uint8Array, receiver: number, from: Endpoint, nowMs: number): Uint8Array {
    if (!this.secret || nowMs - this.secretAtMs >= COOKIE_REFRESH_MS) {
      this.secret?.fill(0);
      this.secret = this.random(32);
      this.secretAtMs = nowMs;
    }
    const o = macOffsets(msg);
    const cookie = mac(this.secret, sourceBytes(from));
    const nonce = this.random(NONCE_BYTES);
    const encryptedCookie = xaeadSeal(this.cookieKey, nonce, cookie, msg.subarray(o.mac1, o.mac2));
    return encodeCookieReply({ receiver, nonce, encryptedCookie });
  }
}
