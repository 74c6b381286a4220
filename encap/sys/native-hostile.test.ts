/**
 * Every function of the native addon called with hostile arguments: negative, huge, NaN and
 * fractional numbers, wrong types, typed arrays of the wrong kind, slots outside the slab, a closed
 * fd and an fd of the wrong kind. Each must throw a TypeError or RangeError naming the function and
 * the argument, or give the error result its contract documents; none may touch memory outside
 * what it was given (this process would die, or corrupt the guard bytes checked below).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeSys } from './native.js';

const sys = nativeSys();
const LOOPBACK = 0x7f000001;
/** An fd number no process has open (far above any RLIMIT_NOFILE): a closed fd. */
const CLOSED_FD = 2 ** 30;

let udp = -1;
let udpPort = 0;
let peer = -1;
let nl = -1;

beforeAll(() => {
  udp = sys.udpOpen(LOOPBACK, 0, 1 << 16, 1 << 16);
  peer = sys.udpOpen(LOOPBACK, 0, 1 << 16, 1 << 16);
  nl = sys.nlOpen(0);
  udpPort = portOf(udp);
});

afterAll(() => {
  for (const fd of [udp, peer, nl]) if (fd >= 0) sys.close(fd);
});

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
      expect(
        sys.sendBatch(fd, slab, one(0), one(4), 0, 1, Uint32Array.from([LOOPBACK]), one(port), one(0)),
      ).toBe(1);
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
      expect(n).toBe(1);
      return ports[0]!;
    } finally {
      sys.close(probe);
    }
  }
}

/** A slab with guard bytes on both sides: a write outside [GUARD, GUARD + SLAB) changes them. */
const GUARD = 256;
const SLAB = 4096;
function guardedSlab(): { slab: Uint8Array; intact: () => boolean } {
  const whole = new Uint8Array(new SharedArrayBuffer(GUARD + SLAB + GUARD)).fill(0xa5);
  const slab = whole.subarray(GUARD, GUARD + SLAB);
  const intact = (): boolean =>
    whole.subarray(0, GUARD).every((b) => b === 0xa5) &&
    whole.subarray(GUARD + SLAB).every((b) => b === 0xa5);
  return { slab, intact };
}

/** Queues one datagram of `len` bytes on `udp`, so a read on it has something to write. */
function queueDatagram(len = 64): void {
  const src = new Uint8Array(len).fill(0x5a);
  const one = (v: number): Int32Array => Int32Array.from([v]);
  expect(
    sys.sendBatch(peer, src, one(0), one(len), 0, 1, Uint32Array.from([LOOPBACK]), one(udpPort), one(0)),
  ).toBe(1);
}

/** Empties `udp`'s receive queue. */
function drain(): void {
  const slab = new Uint8Array(2048);
  const one = (v: number): Int32Array => Int32Array.from([v]);
  while (sys.recvBatch(udp, slab, one(0), one(0), 1, 2048, new Uint32Array(1), one(0), one(0), -1) > 0);
}

const NON_NUMBERS: unknown[] = ['1', undefined, null, {}, [], 1n, true];
const BAD_INTS: unknown[] = [-1, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 53, NaN, Infinity, -Infinity, 1.5];
const BAD_U32: unknown[] = [-1, 2 ** 32, 2 ** 53, NaN, Infinity, 0.5];
const BAD_TIMEOUTS: unknown[] = [-2, -(2 ** 31), 2 ** 31, NaN, Infinity, 0.5];
const BAD_BOOLS: unknown[] = [0, 1, 'true', null, {}];
const NOT_U8: unknown[] = [
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
const NOT_I32: unknown[] = [
  new Uint32Array(4),
  new Float32Array(4),
  new Uint8Array(16),
  new Uint8Array(new ArrayBuffer(17), 1, 16), // misaligned bytes that would alias 4 ints
  new BigInt64Array(2),
  [0, 0, 0, 0],
  null,
];
const NOT_U32: unknown[] = [new Int32Array(4), new Float64Array(4), new Uint8Array(16), [0], null];

type Call = (...args: unknown[]) => unknown;
const fn = (name: keyof typeof sys): Call => (sys[name] as unknown as Call).bind(sys);

/** Calls `name(args)` with args[index] replaced by each of `values`; each must throw `kind`. */
function rejects(
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
    const what = `${name} with argument ${index} = ${show(v)}`;
    expect(thrown, what).toBeInstanceOf(kind === 'TypeError' ? TypeError : RangeError);
    expect((thrown as Error).message, what).toMatch(new RegExp(`^${name}: `));
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
function checksInt(name: keyof typeof sys, args: unknown[], index: number, bad = BAD_INTS): void {
  rejects(name, args, index, bad, 'RangeError');
  rejects(name, args, index, NON_NUMBERS, 'TypeError');
}

function errnoOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    expect(err).not.toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(RangeError);
    return (err as { code?: string }).code;
  }
  return undefined;
}

const i32 = (...v: number[]): Int32Array => Int32Array.from(v);

describe('readBatch', () => {
  const args = (): unknown[] => [udp, new Uint8Array(4096), i32(0, 2048), new Int32Array(2), 2, 2048, 0];
  it('rejects bad fds, counts, capacities, timeouts and array kinds', () => {
    checksInt('readBatch', args(), 0);
    checksInt('readBatch', args(), 4);
    checksInt('readBatch', args(), 5);
    checksInt('readBatch', args(), 6, BAD_TIMEOUTS);
    rejects('readBatch', args(), 1, NOT_U8, 'TypeError');
    rejects('readBatch', args(), 2, NOT_I32, 'TypeError');
    rejects('readBatch', args(), 3, NOT_I32, 'TypeError');
    rejects('readBatch', args(), 4, [3, 256], 'RangeError'); // more than the arrays hold
    rejects('readBatch', args(), 5, [0, 4097], 'RangeError'); // no slot, or larger than the slab
  });

  it('refuses a slot outside the slab before it reads, so nothing outside is written', () => {
    const { slab, intact } = guardedSlab();
    for (const off of [-64, -1, SLAB - 63, 2 ** 31 - 1, -(2 ** 31)]) {
      drain();
      queueDatagram(64);
      expect(() => sys.readBatch(udp, slab, i32(off), new Int32Array(1), 1, 64, -1), `offset ${off}`).toThrow(
        RangeError,
      );
      expect(intact(), `guard bytes after offset ${off}`).toBe(true);
    }
    drain();
  });

  it('reads into a slot at an odd offset, and reports a closed fd as EBADF', () => {
    const { slab, intact } = guardedSlab();
    drain();
    queueDatagram(64);
    const lens = new Int32Array(1);
    expect(sys.readBatch(udp, slab, i32(SLAB - 65), lens, 1, 64, 1000)).toBe(1);
    expect(lens[0]).toBe(64);
    expect(intact()).toBe(true);
    expect(errnoOf(() => sys.readBatch(CLOSED_FD, slab, i32(0), lens, 1, 64, -1))).toBe('EBADF');
  });
});

describe('writeBatch', () => {
  const args = (): unknown[] => [udp, new Uint8Array(4096), i32(0), i32(0), 0, new Int32Array(2)];
  it('rejects bad fds, counts and array kinds', () => {
    checksInt('writeBatch', args(), 0);
    checksInt('writeBatch', args(), 4);
    rejects('writeBatch', args(), 1, NOT_U8, 'TypeError');
    rejects('writeBatch', args(), 2, NOT_I32, 'TypeError');
    rejects('writeBatch', args(), 3, NOT_I32, 'TypeError');
    rejects('writeBatch', args(), 5, NOT_I32, 'TypeError');
    rejects('writeBatch', args(), 5, [new Int32Array(1)], 'RangeError'); // errs needs 2 slots
    rejects('writeBatch', args(), 4, [2], 'RangeError');
  });

  it('refuses a packet outside the slab, by offset or by length', () => {
    const slab = new Uint8Array(4096);
    for (const [off, len] of [
      [-1, 10],
      [0, -1],
      [4000, 97],
      [2 ** 31 - 1, 2 ** 31 - 1],
      [1, 4096],
    ]) {
      expect(
        () => sys.writeBatch(udp, slab, i32(off!), i32(len!), 1, new Int32Array(2)),
        `${off}+${len}`,
      ).toThrow(RangeError);
    }
  });

  it('counts what the kernel refuses (an unconnected UDP socket, a closed fd) in errs', () => {
    const errs = new Int32Array(2);
    expect(sys.writeBatch(udp, new Uint8Array(64), i32(0, 8), i32(8, 8), 2, errs)).toBe(0);
    expect(errs[0]).toBe(2);
    expect(errs[1]).toBeGreaterThan(0);
    errs.fill(0);
    expect(sys.writeBatch(CLOSED_FD, new Uint8Array(64), i32(0), i32(8), 1, errs)).toBe(0);
    expect([...errs]).toEqual([1, 9]); // EBADF
  });
});

describe('recvBatch', () => {
  const args = (): unknown[] => [
    udp,
    new Uint8Array(4096),
    i32(0, 2048),
    new Int32Array(2),
    2,
    2048,
    new Uint32Array(2),
    new Int32Array(2),
    new Int32Array(2),
    0,
  ];
  it('rejects bad fds, counts, capacities, timeouts and array kinds', () => {
    checksInt('recvBatch', args(), 0);
    checksInt('recvBatch', args(), 4);
    checksInt('recvBatch', args(), 5);
    checksInt('recvBatch', args(), 9, BAD_TIMEOUTS);
    rejects('recvBatch', args(), 1, NOT_U8, 'TypeError');
    for (const i of [2, 3, 7, 8]) rejects('recvBatch', args(), i, NOT_I32, 'TypeError');
    rejects('recvBatch', args(), 6, NOT_U32, 'TypeError');
    rejects('recvBatch', args(), 4, [3], 'RangeError');
    rejects('recvBatch', args(), 6, [new Uint32Array(1)], 'RangeError'); // shorter than count
    rejects('recvBatch', args(), 5, [0, 4097, 2 ** 31 - 1], 'RangeError');
  });

  it('refuses a slot outside the slab, and a negative count never reaches memset', () => {
    const { slab, intact } = guardedSlab();
    const out = (): unknown[] => [new Uint32Array(1), new Int32Array(1), new Int32Array(1)];
    for (const off of [-64, SLAB - 63, 2 ** 31 - 1]) {
      drain();
      queueDatagram(64);
      expect(() => fn('recvBatch')(udp, slab, i32(off), new Int32Array(1), 1, 64, ...out(), -1)).toThrow(
        RangeError,
      );
      expect(intact()).toBe(true);
    }
    expect(() => fn('recvBatch')(udp, slab, i32(0), new Int32Array(1), -1, 64, ...out(), -1)).toThrow(
      RangeError,
    );
    drain();
  });

  it('reports a closed fd and a netlink fd as errors, not crashes', () => {
    const call = (fd: number): unknown =>
      fn('recvBatch')(fd, new Uint8Array(64), i32(0), i32(0), 1, 64, new Uint32Array(1), i32(0), i32(0), 0);
    expect(errnoOf(() => call(CLOSED_FD))).toBe('EBADF');
    expect(call(nl)).toBe(0); // nothing queued on the netlink socket
  });
});

describe('sendBatch', () => {
  const args = (): unknown[] => [
    udp,
    new Uint8Array(4096),
    i32(0),
    i32(8),
    0,
    0,
    Uint32Array.from([LOOPBACK]),
    i32(9),
    i32(0),
  ];
  it('rejects bad fds, starts, counts and array kinds', () => {
    checksInt('sendBatch', args(), 0);
    checksInt('sendBatch', args(), 4);
    checksInt('sendBatch', args(), 5);
    rejects('sendBatch', args(), 1, NOT_U8, 'TypeError');
    for (const i of [2, 3, 7, 8]) rejects('sendBatch', args(), i, NOT_I32, 'TypeError');
    rejects('sendBatch', args(), 6, NOT_U32, 'TypeError');
    rejects('sendBatch', args(), 4, [2], 'RangeError'); // start past the arrays
    rejects('sendBatch', args(), 5, [2], 'RangeError'); // count past the arrays
  });

  it('refuses messages outside the slab, and ports or GSO sizes that do not fit 16 bits', () => {
    const slab = new Uint8Array(4096);
    const send = (off: number, len: number, port: number, gso: number): unknown =>
      sys.sendBatch(udp, slab, i32(off), i32(len), 0, 1, Uint32Array.from([LOOPBACK]), i32(port), i32(gso));
    for (const [off, len] of [
      [-1, 8],
      [0, -1],
      [4090, 7],
      [2 ** 31 - 1, 2 ** 31 - 1],
    ])
      expect(() => send(off!, len!, udpPort, 0), `${off}+${len}`).toThrow(RangeError);
    for (const port of [-1, 65536, 2 ** 31 - 1])
      expect(() => send(0, 8, port, 0), `port ${port}`).toThrow(RangeError);
    for (const gso of [-1, 65536]) expect(() => send(0, 8, udpPort, gso), `gso ${gso}`).toThrow(RangeError);
  });

  it('returns -errno for a closed fd and for a netlink fd', () => {
    const send = (fd: number): unknown =>
      sys.sendBatch(
        fd,
        new Uint8Array(64),
        i32(0),
        i32(8),
        0,
        1,
        Uint32Array.from([LOOPBACK]),
        i32(udpPort),
        i32(0),
      );
    expect(send(CLOSED_FD)).toBe(-9); // EBADF
    expect(send(nl)).toBeLessThan(0);
  });
});

describe('waitReadable, close, csum', () => {
  it('waitReadable rejects bad fds and timeouts (a negative one would block forever)', () => {
    checksInt('waitReadable', [udp, nl, 0], 0);
    checksInt('waitReadable', [udp, nl, 0], 1);
    checksInt('waitReadable', [udp, nl, 0], 2, [-1, ...BAD_TIMEOUTS]);
    expect(sys.waitReadable(CLOSED_FD, nl, 0)).toBe(1); // POLLNVAL: readable, the read then says EBADF
  });

  it('close rejects bad fds and reports a closed one as EBADF', () => {
    checksInt('close', [CLOSED_FD], 0);
    expect(errnoOf(() => sys.close(CLOSED_FD))).toBe('EBADF');
  });

  it('csum rejects ranges outside the buffer and sums at odd offsets', () => {
    const buf = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11]);
    checksInt('csum', [buf, 0, 2, 0], 1);
    checksInt('csum', [buf, 0, 2, 0], 2);
    checksInt('csum', [buf, 0, 2, 0], 3, BAD_U32);
    rejects('csum', [buf, 0, 2, 0], 0, NOT_U8, 'TypeError');
    for (const [off, len] of [
      [11, 0],
      [0, 11],
      [5, 6],
      [2 ** 32 - 1, 2],
    ])
      expect(() => sys.csum(buf, off!, len!, 0), `${off}+${len}`).toThrow(RangeError);
    // Bytes 1..4 are 00 00 73 00: the words 0x0000 + 0x7300.
    expect(sys.csum(buf, 1, 4, 0)).toBe(0x7300);
    expect(sys.csum(buf, 10, 0, 0)).toBe(0);
  });
});

describe('the socket and steering calls', () => {
  it('udpOpen rejects addresses, ports and buffer sizes out of range', () => {
    const args = [LOOPBACK, 0, 0, 0, false];
    checksInt('udpOpen', args, 0, BAD_U32);
    checksInt('udpOpen', args, 1, [...BAD_INTS, 65536]);
    checksInt('udpOpen', args, 2);
    checksInt('udpOpen', args, 3);
    rejects('udpOpen', args, 4, BAD_BOOLS, 'TypeError');
  });

  it('tunOpen rejects names that do not fit IFNAMSIZ and non-boolean flags (before opening anything)', () => {
    const args = ['ovlhostile0', false, false];
    rejects('tunOpen', args, 0, [1, null, {}, new Uint8Array(4)], 'TypeError');
    rejects('tunOpen', args, 0, ['a'.repeat(16), 'é'.repeat(8)], 'RangeError');
    rejects('tunOpen', args, 1, [...BAD_BOOLS, undefined], 'TypeError');
    rejects('tunOpen', args, 2, BAD_BOOLS, 'TypeError');
  });

  it('tunSetOffload, tunSteerByCpu, udpSteerByCpu and udpSetGro check fds and report a wrong kind of fd', () => {
    checksInt('tunSetOffload', [udp, 0], 0);
    checksInt('tunSetOffload', [udp, 0], 1, BAD_U32);
    checksInt('tunSteerByCpu', [udp], 0);
    checksInt('udpSteerByCpu', [udp, 1], 0);
    checksInt('udpSteerByCpu', [udp, 1], 1, [0, ...BAD_INTS, 1025]);
    checksInt('udpSetGro', [udp, true], 0);
    rejects('udpSetGro', [udp, true], 1, [...BAD_BOOLS, undefined], 'TypeError');
    expect(errnoOf(() => sys.tunSetOffload(udp, 0))).toEqual(expect.any(String));
    expect(errnoOf(() => sys.tunSteerByCpu(udp))).toEqual(expect.any(String));
    expect(errnoOf(() => sys.udpSteerByCpu(nl, 1))).toEqual(expect.any(String));
    expect(errnoOf(() => sys.udpSteerByCpu(CLOSED_FD, 1))).toBe('EBADF');
    expect(sys.udpSetGro(nl, true)).toBe(false);
  });

  it('pinThread takes only an Int32Array of CPU numbers', () => {
    rejects('pinThread', [i32(0)], 0, NOT_I32, 'TypeError');
    rejects('pinThread', [i32(0)], 0, [i32(-1), i32(0, 1 << 20), i32(2 ** 31 - 1)], 'RangeError');
  });

  it('nlOpen, nlSend and nlRecv check lengths, timeouts and fds', () => {
    checksInt('nlOpen', [0], 0, BAD_U32);
    const buf = new Uint8Array(64);
    checksInt('nlSend', [nl, buf, 0], 0);
    checksInt('nlSend', [nl, buf, 0], 2, [...BAD_INTS, 65]);
    rejects('nlSend', [nl, buf, 0], 1, NOT_U8, 'TypeError');
    checksInt('nlRecv', [nl, buf, 0], 0);
    checksInt('nlRecv', [nl, buf, 0], 2, [-1, ...BAD_TIMEOUTS]);
    rejects('nlRecv', [nl, buf, 0], 1, NOT_U8, 'TypeError');
    expect(errnoOf(() => sys.nlSend(CLOSED_FD, buf, 16))).toBe('EBADF');
    expect(errnoOf(() => sys.nlSend(udp, buf, 16))).toEqual(expect.any(String)); // not a netlink socket
    expect(errnoOf(() => sys.nlRecv(CLOSED_FD, buf, 0))).toBe('EBADF');
    expect(sys.nlRecv(udp, buf, 0)).toBe(0);
  });

  it('sdNotify takes two strings that fit, and reports a missing socket', () => {
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 0, [1, null, undefined, {}], 'TypeError');
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 1, [1, null, undefined, {}], 'TypeError');
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 0, ['', '/' + 'a'.repeat(200)], 'RangeError');
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 1, ['x'.repeat(5000)], 'RangeError');
    expect(errnoOf(() => sys.sdNotify('/nonexistent/overlayd-notify', 'READY=1'))).toBe('ENOENT');
  });
});
