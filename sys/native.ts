/**
 * Loads the overlayd_sys N-API addon (built by node-gyp on `npm install`/`npm ci` from
 * sys/native/). Only files under sys/ import this (tools/layers.json): the rest of overlayd
 * reaches the kernel through sys/'s typed wrappers.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OverlaydError } from '../core/errors.js';

/**
 * The UDP batch calls (mmsg.c, sg-io.c): one signature per call for both families. On the
 * AF_INET calls `addrs` holds one host-order word per message; on the AF_INET6 ones (the `6`
 * names) four (core/ipv6-words.ts).
 */
type RecvBatch = (
  fd: number,
  slab: Uint8Array,
  offs: Int32Array,
  lens: Int32Array,
  count: number,
  cap: number,
  addrs: Uint32Array,
  ports: Int32Array,
  gso: Int32Array,
  timeoutMs: number,
) => number;
type SendBatch = (
  fd: number,
  slab: Uint8Array,
  offs: Int32Array,
  lens: Int32Array,
  start: number,
  count: number,
  addrs: Uint32Array,
  ports: Int32Array,
  gso: Int32Array,
) => number;
/** Message i is iovecs first[i] .. first[i]+counts[i]-1 of (iovOffs, iovLens). */
type SendvBatch = (
  fd: number,
  slab: Uint8Array,
  iovOffs: Int32Array,
  iovLens: Int32Array,
  first: Int32Array,
  counts: Int32Array,
  start: number,
  count: number,
  addrs: Uint32Array,
  ports: Int32Array,
  gso: Int32Array,
) => number;

/**
 * The addon's functions; see sys/native/*.c for each one's contract. Every argument is
 * checked in C (sys/native/args.c): a value of the wrong type or kind (offs must be an
 * Int32Array, slab a Uint8Array, ...) throws a TypeError, a value out of range (a negative count,
 * a slot outside the slab, NaN, a fraction, a timeout over 60 s) a RangeError, each naming the
 * function and the argument. A failing syscall throws an Error with `code` (errno name) and
 * `errno`, except where a result below says otherwise. No call waits without a bound: timeouts are
 * 0..60000 ms (-1 on readBatch/recvBatch: do not poll), sendBatch gives up on a full socket after
 * 50 ms (-ETIMEDOUT or the count sent), writeBatch after 50 ms per batch (errs[1] = ETIMEDOUT),
 * nlSend after 1 s (throws ETIMEDOUT).
 */
export interface NativeSys {
  sdNotify(socketPath: string, message: string): void;
  tunOpen(name: string, vnetHdr: boolean, multiQueue?: boolean): [number, string];
  tunSteerByCpu(fd: number): void;
  tunSetOffload(fd: number, flags: number): void;
  udpOpen(ip: number, port: number, rcvbuf: number, sndbuf: number, reusePort?: boolean): number;
  /** An IPV6_V6ONLY socket bound to [ip]:port; ip is four words (core/ipv6-words.ts). */
  udpOpen6(ip: Uint32Array, port: number, rcvbuf: number, sndbuf: number, reusePort?: boolean): number;
  udpSteerByCpu(fd: number, queues: number): void;
  /** Pins the calling thread; returns 0 or the errno (EINVAL: none of `cpus` is allowed). */
  pinThread(cpus: Int32Array): number;
  /** Reads up to min(count, 256) packets; 0 on timeout. */
  udpSetGro(fd: number, on: boolean): boolean;
  readBatch(
    fd: number,
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    count: number,
    cap: number,
    timeoutMs: number,
  ): number;
  writeBatch(
    fd: number,
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    count: number,
    errs: Int32Array,
  ): number;
  recvBatch: RecvBatch;
  /** Messages sent (several sendmmsg past 256), or -errno when the first fails (-ETIMEDOUT: still full after 50 ms). */
  sendBatch: SendBatch;
  /** recvBatch on an AF_INET6 socket: addrs hold four words per datagram (core/ipv6-words.ts). */
  recvBatch6: RecvBatch;
  /** sendBatch to IPv6 peers: addrs hold four words per message. */
  sendBatch6: SendBatch;
  /** Scatter-gather (sg-io.c): message/packet i is iovecs first[i] .. first[i]+counts[i]-1 of (iovOffs, iovLens). */
  sendvBatch: SendvBatch;
  /** sendvBatch to IPv6 peers: addrs hold four words per message. */
  sendvBatch6: SendvBatch;
  writevBatch(
    fd: number,
    slab: Uint8Array,
    iovOffs: Int32Array,
    iovLens: Int32Array,
    first: Int32Array,
    counts: Int32Array,
    count: number,
    errs: Int32Array,
  ): number;
  csumChunks(buf: Uint8Array, off: number, len: number, chunk: number, out: Uint32Array): number;
  /** 0 when a UDP_SEGMENT message of several iovecs arrives intact over loopback; else the errno. */
  sgProbe(): number;
  /** Bit 0: fdA readable, bit 1: fdB readable; 0 on timeout. */
  waitReadable(fdA: number, fdB: number, timeoutMs: number): number;
  close(fd: number): void;
  csum(buf: Uint8Array, off: number, len: number, seed: number): number;
  /** ChaCha20-Poly1305 in place over a batch (aead.c; typed contract in sys/wg-aead.ts). */
  sealBatch(
    keys: Uint8Array,
    keyIdx: Int32Array,
    counters: BigUint64Array,
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    n: number,
  ): void;
  openBatch(
    keys: Uint8Array,
    keyIdx: Int32Array,
    counters: BigUint64Array,
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    ok: Uint8Array,
    n: number,
  ): number;
  nlOpen(groups: number): number;
  nlSend(fd: number, buf: Uint8Array, len: number): number;
  nlRecv(fd: number, buf: Uint8Array, timeoutMs: number): number;
}

function projectRoot(): string {
  // Works from the sources (vitest) and from dist/ (the built daemon) alike.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new OverlaydError(
    'SYSCALL',
    'cannot find the overlayd package root (binding.gyp) from ' + fileURLToPath(import.meta.url),
  );
}

let cached: NativeSys | undefined;

export function nativeSys(): NativeSys {
  if (cached) return cached;
  const path = join(projectRoot(), 'build', 'Release', 'overlayd_sys.node');
  try {
    cached = createRequire(import.meta.url)(path) as NativeSys;
  } catch (err) {
    throw new OverlaydError(
      'SYSCALL',
      `cannot load the native addon ${path}; run "npm ci" (it builds it with node-gyp)`,
      { cause: err },
    );
  }
  return cached;
}
