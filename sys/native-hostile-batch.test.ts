/**
 * The addon's batch calls (readBatch, writeBatch, recvBatch, sendBatch) with hostile arguments:
 * negative, huge, NaN and fractional numbers, wrong types, typed arrays of the wrong kind, slots
 * outside the slab, a closed fd and an fd of the wrong kind. Each must throw a TypeError or
 * RangeError naming the function and the argument, or give the error result its contract
 * documents; none may touch memory outside what it was given (guard bytes around the slab).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_TIMEOUTS,
  CLOSED_FD,
  LOOPBACK,
  NOT_I32,
  NOT_U32,
  NOT_U8,
  SLAB,
  checksInt,
  closeFds,
  drain,
  errnoOf,
  fds,
  fn,
  guardedSlab,
  i32,
  openFds,
  queueDatagram,
  rejects,
  sys,
} from '../test/support/native-hostile.js';

beforeAll(openFds);
afterAll(closeFds);

describe('readBatch', () => {
  const args = (): unknown[] => [fds.udp, new Uint8Array(4096), i32(0, 2048), new Int32Array(2), 2, 2048, 0];
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
      expect(
        () => sys.readBatch(fds.udp, slab, i32(off), new Int32Array(1), 1, 64, -1),
        `offset ${off}`,
      ).toThrow(RangeError);
      expect(intact(), `guard bytes after offset ${off}`).toBe(true);
    }
    drain();
  });

  it('reads into a slot at an odd offset, and reports a closed fd as EBADF', () => {
    const { slab, intact } = guardedSlab();
    drain();
    queueDatagram(64);
    const lens = new Int32Array(1);
    expect(sys.readBatch(fds.udp, slab, i32(SLAB - 65), lens, 1, 64, 1000)).toBe(1);
    expect(lens[0]).toBe(64);
    expect(intact()).toBe(true);
    expect(errnoOf(() => sys.readBatch(CLOSED_FD, slab, i32(0), lens, 1, 64, -1))).toBe('EBADF');
  });
});

describe('writeBatch', () => {
  const args = (): unknown[] => [fds.udp, new Uint8Array(4096), i32(0), i32(0), 0, new Int32Array(2)];
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
        () => sys.writeBatch(fds.udp, slab, i32(off!), i32(len!), 1, new Int32Array(2)),
        `${off}+${len}`,
      ).toThrow(RangeError);
    }
  });

  it('counts what the kernel refuses (an unconnected UDP socket, a closed fd) in errs', () => {
    const errs = new Int32Array(2);
    expect(sys.writeBatch(fds.udp, new Uint8Array(64), i32(0, 8), i32(8, 8), 2, errs)).toBe(0);
    expect(errs[0]).toBe(2);
    expect(errs[1]).toBeGreaterThan(0);
    errs.fill(0);
    expect(sys.writeBatch(CLOSED_FD, new Uint8Array(64), i32(0), i32(8), 1, errs)).toBe(0);
    expect([...errs]).toEqual([1, 9]); // EBADF
  });
});

describe('recvBatch', () => {
  const args = (): unknown[] => [
    fds.udp,
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
      expect(() => fn('recvBatch')(fds.udp, slab, i32(off), new Int32Array(1), 1, 64, ...out(), -1)).toThrow(
        RangeError,
      );
      expect(intact()).toBe(true);
    }
    expect(() => fn('recvBatch')(fds.udp, slab, i32(0), new Int32Array(1), -1, 64, ...out(), -1)).toThrow(
      RangeError,
    );
    drain();
  });

  it('reports a closed fd and a netlink fd as errors, not crashes', () => {
    const call = (fd: number): unknown =>
      fn('recvBatch')(fd, new Uint8Array(64), i32(0), i32(0), 1, 64, new Uint32Array(1), i32(0), i32(0), 0);
    expect(errnoOf(() => call(CLOSED_FD))).toBe('EBADF');
    expect(call(fds.nl)).toBe(0); // nothing queued on the netlink socket
  });
});

describe('sendBatch', () => {
  const args = (): unknown[] => [
    fds.udp,
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
      sys.sendBatch(
        fds.udp,
        slab,
        i32(off),
        i32(len),
        0,
        1,
        Uint32Array.from([LOOPBACK]),
        i32(port),
        i32(gso),
      );
    for (const [off, len] of [
      [-1, 8],
      [0, -1],
      [4090, 7],
      [2 ** 31 - 1, 2 ** 31 - 1],
    ])
      expect(() => send(off!, len!, fds.udpPort, 0), `${off}+${len}`).toThrow(RangeError);
    for (const port of [-1, 65536, 2 ** 31 - 1])
      expect(() => send(0, 8, port, 0), `port ${port}`).toThrow(RangeError);
    for (const gso of [-1, 65536])
      expect(() => send(0, 8, fds.udpPort, gso), `gso ${gso}`).toThrow(RangeError);
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
        i32(fds.udpPort),
        i32(0),
      );
    expect(send(CLOSED_FD)).toBe(-9); // EBADF
    expect(send(fds.nl)).toBeLessThan(0);
  });
});
