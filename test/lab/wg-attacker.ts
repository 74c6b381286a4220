/**
 * A hostile host on the underlay, for the wireguard security tests: it sends WireGuard-shaped
 * datagrams at a node's port from its own namespace, and floods it with handshake initiations
 * that carry a valid MAC1 (anyone can compute one: it is keyed by the responder's public key,
 * which the lease publishes) so the responder must do the expensive part unless it answers with
 * cookie replies. Python's hashlib BLAKE2s computes MAC1 here: independent of the code under test.
 *
 * Builders of each hostile kind are pure functions of their inputs (a captured transport message
 * for the replayed and forged kinds).
 */
import { randomBytes } from 'node:crypto';
import { run } from './shell.js';
import { transportHeader } from './wireguard-message-check.js';

export interface Target {
  readonly ip: string;
  readonly port: number;
}

/** What an attacker's socket got back, by WireGuard message type (first byte), while it sent. */
export interface Replies {
  readonly sent: number;
  readonly byType: Record<string, number>;
  /** Sizes of the type-3 (cookie reply) datagrams received. */
  readonly cookieSizes: number[];
}

const le64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};

/** Not a WireGuard message at all: an IPv4-looking first byte, random rest. */
export const garbage = (): Uint8Array => Buffer.concat([Buffer.from([0x45]), randomBytes(99)]);

/** Transport data cut to 20 bytes: a header without room for the tag. */
export const truncatedTransport = (): Uint8Array =>
  Buffer.concat([Buffer.from([4, 0, 0, 0]), randomBytes(16)]);

/** An initiation cut to 100 of its 148 bytes. */
export const truncatedInitiation = (): Uint8Array =>
  Buffer.concat([Buffer.from([1, 0, 0, 0]), randomBytes(96)]);

/** An initiation of 180 bytes: longer than its type's 148. */
export const oversizedInitiation = (): Uint8Array =>
  Buffer.concat([Buffer.from([1, 0, 0, 0]), randomBytes(176)]);

/** Transport data of 1468 bytes: more plaintext than a 1420-byte tunnel MTU allows (still one underlay datagram). */
export const oversizedTransport = (): Uint8Array =>
  Buffer.concat([Buffer.from([4, 0, 0, 0]), randomBytes(1464)]);

/** Transport data for a receiver index no session has (random: a 2^-32 chance of a hit per live session). */
export const unknownReceiver = (): Uint8Array =>
  Buffer.concat([Buffer.from([4, 0, 0, 0]), randomBytes(4), le64(0n), randomBytes(48)]);

/** A captured transport message with its counter moved far ahead: the nonce changes, the tag no longer verifies. */
export function forgedTag(captured: Uint8Array, ahead = 1n << 20n): Uint8Array {
  const { counter } = transportHeader(captured);
  const b = Buffer.from(captured);
  le64(counter + ahead).copy(b, 8);
  return b;
}

/** A full-size initiation whose MAC1 is random: not computed with the responder's key. */
export const badMac1Initiation = (): Uint8Array =>
  Buffer.concat([Buffer.from([1, 0, 0, 0]), randomBytes(144)]);

const PY_COMMON = `
import socket, sys, time, select, json, hashlib, base64, os
def collect(s, out, sizes):
    while True:
        r, _, _ = select.select([s], [], [], 0)
        if not r: return
        d = s.recv(65535)
        k = str(d[0]) if d else 'empty'
        out[k] = out.get(k, 0) + 1
        if d and d[0] == 3: sizes.append(len(d))
`;

/**
 * Sends each datagram once, `gapMs` apart, from `ns` to `to`; then listens `listenMs` for replies.
 */
export async function sendDatagrams(
  ns: string,
  to: Target,
  datagrams: readonly Uint8Array[],
  opts: { gapMs?: number; listenMs?: number } = {},
): Promise<Replies> {
  const py = `${PY_COMMON}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out, sizes, n = {}, [], 0
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    s.sendto(bytes.fromhex(line), (${JSON.stringify(to.ip)}, ${to.port})); n += 1
    time.sleep(${(opts.gapMs ?? 2) / 1000}); collect(s, out, sizes)
end = time.time() + ${(opts.listenMs ?? 200) / 1000}
while time.time() < end:
    collect(s, out, sizes); time.sleep(0.01)
print(json.dumps({'sent': n, 'byType': out, 'cookieSizes': sizes}))
`;
  const input = datagrams.map((d) => Buffer.from(d).toString('hex')).join('\n') + '\n';
  const r = await run('ip', ['netns', 'exec', ns, 'python3', '-c', py], { input, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`attacker in ${ns}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Replies;
}

/**
 * For `seconds`, bursts of `burst` initiations with a valid MAC1 for `responderPublicKey` (base64)
 * and no MAC2, `gapMs` apart (each burst as fast as python sends); counts the replies.
 */
export async function floodInitiations(
  ns: string,
  to: Target,
  responderPublicKey: string,
  seconds: number,
  burst = 128,
  gapMs = 1,
): Promise<Replies> {
  const py = `${PY_COMMON}
key = hashlib.blake2s(b'mac1----' + base64.b64decode(${JSON.stringify(responderPublicKey)})).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
out, sizes, n = {}, [], 0
end = time.time() + ${seconds}
while time.time() < end:
    for _ in range(${burst}):
        body = b'\\x01\\x00\\x00\\x00' + os.urandom(112)
        mac1 = hashlib.blake2s(body, key=key, digest_size=16).digest()
        try:
            s.sendto(body + mac1 + bytes(16), (${JSON.stringify(to.ip)}, ${to.port})); n += 1
        except BlockingIOError:
            pass
    collect(s, out, sizes)
    time.sleep(${gapMs / 1000})
end = time.time() + 0.5
while time.time() < end:
    collect(s, out, sizes); time.sleep(0.01)
print(json.dumps({'sent': n, 'byType': out, 'cookieSizes': sizes}))
`;
  const r = await run('ip', ['netns', 'exec', ns, 'python3', '-c', py], { timeoutMs: (seconds + 60) * 1000 });
  if (r.code !== 0) throw new Error(`flood from ${ns}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Replies;
}
