/**
 * Test support for native-hostile-*.test.ts: the hostile values, the sockets they are aimed at,
 * and the checks that a call threw the right error. Uses node:assert (not vitest) so that it
 * compiles with the sources like the other test helpers.
 */
import assert from 'node:assert/strict';
import { nativeSys } from '../../sys/native.js';

export const sys = nativeSys();
export const LOOPBACK = 0x7f000001;
/** An fd number no process has open (far above any RLIMIT_NOFILE): a closed fd. */
export const CLOSED_FD = 2 ** 30;

/** The sockets the calls are aimed at: a UDP socket (and its port), a UDP peer, a netlink socket. */
export const fds = { udp: -1, udpPort: 0, peer: -1, nl: -1 };

export function openFds(): void {
  fds.udp = sys.udpOpen(LOOPBACK, 0, 1 << 16, 1 << 16);
  fds.peer = sys.udpOpen(LOOPBACK, 0, 1 << 16, 1 << 16);
  fds.nl = sys.nlOpen(0);
  fds.udpPort = portOf(fds.udp);
}

export function closeFds(): void {
  for (const fd of [fds.udp, fds.peer, fds.nl]) if (fd >= 0) sys.close(fd);
  fds.udp = fds.peer = fds.nl = -1;
}

/** The port the kernel chose for a socket bound to port 0: learnt by sending to ourselves. */
function portOf(fd: number): number {
  // Send from `fd` to itself is impossible without its port, so ask the peer's view: send one
  // datagram from fd to a fresh socket on a known port and read the sender's port there.
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    let probe: number;
    try {
      probe = sys.udpOpen(LOOPBACK, port, 0, 0);
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRINUSE' && attempt < 20) continue;
      throw err;
    }
    try {
      const slab = new Uint8Array(64);
      const one = (v: number): Int32Array => Int32Array.from([v]);
      assert.equal(
        sys.sendBatch(fd, slab, one(0), one(4), 0, 1, Uint32Array.from([LOOPBACK]), one(port), one(0)),
        1,
      );
      const ports = new Int32Array(1);
      const n = sys.recvBatch(
        probe,
        slab,
        one(0),
        new Int32Array(1),
        1,
        64,
        new Uint32Array(1),
        ports,
        new Int32Array(1),
        1000,
      );
      assert.equal(n, 1);
      return ports[0]!;
    } finally {
      sys.close(probe);
    }
  }
}

/** A slab with guard bytes on both sides: a write outside [GUARD, GUARD + SLAB) changes them. */
export const GUARD = 256;
export const SLAB = 4096;
export function guardedSlab(): { slab: Uint8Array; intact: () => boolean } {
  const whole = new Uint8Array(new SharedArrayBuffer(GUARD + SLAB + GUARD)).fill(0xa5);
  const slab = whole.subarray(GUARD, GUARD + SLAB);
  const intact = (): boolean =>
    whole.subarray(0, GUARD).every((b) => b === 0xa5) &&
    whole.subarray(GUARD + SLAB).every((b) => b === 0xa5);
  return { slab, intact };
}

/** Queues one datagram of `len` bytes on `udp`, so a read on it has something to write. */
export function queueDatagram(len = 64): void {
  const src = new Uint8Array(len).fill(0x5a);
  const one = (v: number): Int32Array => Int32Array.from([v]);
  const to = one(fds.udpPort);
  assert.equal(
    sys.sendBatch(fds.peer, src, one(0), one(len), 0, 1, Uint32Array.from([LOOPBACK]), to, one(0)),
    1,
  );
}

/** Empties `udp`'s receive queue. */
export function drain(): void {
  const slab = new Uint8Array(2048);
  const one = (v: number): Int32Array => Int32Array.from([v]);
  while (sys.recvBatch(fds.udp, slab, one(0), one(0), 1, 2048, new Uint32Array(1), one(0), one(0), -1) > 0);
}

export const NON_NUMBERS: unknown[] = ['1', undefined, null, {}, [], 1n, true];
export const BAD_INTS: unknown[] = [-1, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 53, NaN, Infinity, -Infinity, 1.5];
export const BAD_U32: unknown[] = [-1, 2 ** 32, 2 ** 53, NaN, Infinity, 0.5];
export const BAD_TIMEOUTS: unknown[] = [-2, -(2 ** 31), 2 ** 31, NaN, Infinity, 0.5];
export const BAD_BOOLS: unknown[] = [0, 1, 'true', null, {}];
export const NOT_U8: unknown[] = [
  new Int8Array(16),
  new Uint8ClampedArray(16),
  new Uint16Array(8),
  new Int32Array(4),
  new Float64Array(2),
  new DataView(new ArrayBuffer(16)),
  new ArrayBuffer(16),
  [1, 2, 3],
  'abcd',
  7,
  null,
];
export const NOT_I32: unknown[] = [
  new Uint32Array(4),
  new Float32Array(4),
  new Uint8Array(16),
  new Uint8Array(new ArrayBuffer(17), 1, 16), // misaligned bytes that would alias 4 ints
  new BigInt64Array(2),
  [0, 0, 0, 0],
  null,
];
export const NOT_U32: unknown[] = [new Int32Array(4), new Float64Array(4), new Uint8Array(16), [0], null];

export type Call = (...args: unknown[]) => unknown;
export const fn = (name: keyof typeof sys): Call => (sys[name] as unknown as Call).bind(sys);

/** Calls `name(args)` with args[index] replaced by each of `values`; each must throw `kind`. */
export function rejects(
  name: keyof typeof sys,
  args: unknown[],
  index: number,
  values: unknown[],
  kind: 'TypeError' | 'RangeError',
): void {
  for (const v of values) {
    const a = args.slice();
    a[index] = v;
    let thrown: unknown;
    try {
      fn(name)(...a);
    } catch (err) {
      thrown = err;
    }
    const what = `${name} with argument ${index} = ${show(v)}: ${String(thrown)}`;
    assert.ok(
      thrown instanceof (kind === 'TypeError' ? TypeError : RangeError),
      `expected a ${kind} from ${what}`,
    );
    assert.match((thrown as Error).message, new RegExp(`^${name}: `), what);
  }
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength} bytes at ${v.byteOffset})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Integer argument `index` of `name`: every bad number is a RangeError, every non-number a TypeError. */
export function checksInt(name: keyof typeof sys, args: unknown[], index: number, bad = BAD_INTS): void {
  rejects(name, args, index, bad, 'RangeError');
  rejects(name, args, index, NON_NUMBERS, 'TypeError');
}

export function errnoOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    assert.ok(
      !(err instanceof TypeError || err instanceof RangeError),
      `expected an errno error: ${String(err)}`,
    );
    return (err as { code?: string }).code;
  }
  return undefined;
}

export const i32 = (...v: number[]): Int32Array => Int32Array.from(v);
