/**
 * The IPv6 socket calls (udpOpen6, recvBatch6, sendBatch6, sendvBatch6): what they carry over ::1
 * (plain, UDP_SEGMENT, iovecs, UDP_GRO), and hostile arguments — every new one, and the address
 * array that now holds four words per message. Each bad call must throw a TypeError or RangeError
 * naming the function and the argument; none may read or write outside what it was given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_BOOLS,
  BAD_INTS,
  BAD_TIMEOUTS,
  CLOSED_FD,
  NOT_I32,
  NOT_U32,
  NOT_U8,
  SLAB,
  checksInt,
  errnoOf,
  fn,
  guardedSlab,
  i32,
  rejects,
  sys,
} from '../test/support/native-hostile.js';

const LOOPBACK6 = Uint32Array.from([0, 0, 0, 1]);
const ANY6 = new Uint32Array(4);
const v6 = { rx: -1, rxPort: 0, tx: -1, txPort: 0, v4: -1 };

/** The port the kernel chose: learnt from a datagram sent to a socket bound to a known port. */
function portOf6(fd: number): number {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    let probe: number;
    try {
      probe = sys.udpOpen6(LOOPBACK6, port, 0, 0);
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRINUSE' && attempt < 20) continue;
      throw err;
    }
    try {
      expect(sys.sendBatch6(fd, new Uint8Array(8), i32(0), i32(4), 0, 1, LOOPBACK6, i32(port), i32(0))).toBe(
        1,
      );
      const from = new Uint32Array(4);
      const ports = new Int32Array(1);
      expect(
        sys.recvBatch6(
          probe,
          new Uint8Array(64),
          i32(0),
          new Int32Array(1),
          1,
          64,
          from,
          ports,
          i32(0),
          1000,
        ),
      ).toBe(1);
      expect([...from]).toEqual([0, 0, 0, 1]);
      return ports[0]!;
    } finally {
      sys.close(probe);
    }
  }
}

beforeAll(() => {
  v6.rx = sys.udpOpen6(LOOPBACK6, 0, 1 << 20, 1 << 20);
  v6.tx = sys.udpOpen6(LOOPBACK6, 0, 1 << 20, 1 << 20);
  v6.v4 = sys.udpOpen(0x7f000001, 0, 0, 0);
  v6.rxPort = portOf6(v6.rx);
  v6.txPort = portOf6(v6.tx);
});
afterAll(() => {
  for (const fd of [v6.rx, v6.tx, v6.v4]) if (fd >= 0) sys.close(fd);
});

function drain6(): void {
  const one = (v: number): Int32Array => Int32Array.from([v]);
  while (
    sys.recvBatch6(
      v6.rx,
      new Uint8Array(65536),
      one(0),
      one(0),
      1,
      65536,
      new Uint32Array(4),
      one(0),
      one(0),
      -1,
    ) > 0
  );
}

describe('IPv6 datagrams over ::1', () => {
  it('sendBatch6 sends to 16-byte destinations and recvBatch6 reports 16-byte sources and ports', () => {
    drain6();
    const slab = new Uint8Array(4096);
    for (let i = 0; i < 100; i++) slab[i] = i;
    const to = Uint32Array.from([0, 0, 0, 1, 0, 0, 0, 1]);
    expect(
      sys.sendBatch6(v6.tx, slab, i32(0, 50), i32(50, 30), 0, 2, to, i32(v6.rxPort, v6.rxPort), i32(0, 0)),
    ).toBe(2);
    const from = new Uint32Array(12).fill(0xdeadbeef);
    const ports = new Int32Array(3);
    const lens = new Int32Array(3);
    const r = new Uint8Array(3 * 1024);
    expect(
      sys.recvBatch6(v6.rx, r, i32(0, 1024, 2048), lens, 3, 1024, from, ports, new Int32Array(3), 1000),
    ).toBe(2);
    expect([...lens.subarray(0, 2)]).toEqual([50, 30]);
    expect([...from.subarray(0, 8)]).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
    expect([...from.subarray(8)]).toEqual([0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef]); // untouched
    expect([...ports.subarray(0, 2)]).toEqual([v6.txPort, v6.txPort]);
    expect(Buffer.from(r.subarray(1024, 1054)).equals(Buffer.from(slab.subarray(50, 80)))).toBe(true);
  });

  it('sendBatch6 with UDP_SEGMENT and sendvBatch6 with iovecs arrive as separate datagrams; GRO merges them again', () => {
    drain6();
    const slab = new Uint8Array(8192);
    for (let i = 0; i < slab.length; i++) slab[i] = (i * 7) & 0xff;
    // 3 × 1000-byte segments, the last 500 short; then one gathered message cut into 2 segments.
    expect(sys.sendBatch6(v6.tx, slab, i32(0), i32(2500), 0, 1, LOOPBACK6, i32(v6.rxPort), i32(1000))).toBe(
      1,
    );
    const iovOffs = i32(4000, 5000, 4100, 6000);
    const iovLens = i32(100, 900, 100, 400);
    expect(
      sys.sendvBatch6(
        v6.tx,
        slab,
        iovOffs,
        iovLens,
        i32(0),
        i32(4),
        0,
        1,
        LOOPBACK6,
        i32(v6.rxPort),
        i32(1000),
      ),
    ).toBe(1);
    const r = new Uint8Array(8 * 2048);
    const lens = new Int32Array(8);
    const gso = new Int32Array(8);
    const offs = i32(0, 2048, 4096, 6144, 8192, 10240, 12288, 14336);
    expect(
      sys.recvBatch6(v6.rx, r, offs, lens, 8, 2048, new Uint32Array(32), new Int32Array(8), gso, 1000),
    ).toBe(5);
    expect([...lens.subarray(0, 5)]).toEqual([1000, 1000, 500, 1000, 500]);
    expect([...gso.subarray(0, 5)]).toEqual([0, 0, 0, 0, 0]); // GRO off: one datagram each
    const seg = (at: number, ranges: [number, number][]): boolean =>
      Buffer.from(r.subarray(at, at + ranges.reduce((s, [, l]) => s + l, 0))).equals(
        Buffer.concat(ranges.map(([o, l]) => slab.subarray(o, o + l))),
      );
    expect(seg(4096, [[2000, 500]])).toBe(true);
    expect(
      seg(6144, [
        [4000, 100],
        [5000, 900],
      ]),
    ).toBe(true);
    expect(
      seg(8192, [
        [4100, 100],
        [6000, 400],
      ]),
    ).toBe(true);

    expect(sys.udpSetGro(v6.rx, true)).toBe(true);
    try {
      expect(sys.sendBatch6(v6.tx, slab, i32(0), i32(3000), 0, 1, LOOPBACK6, i32(v6.rxPort), i32(1000))).toBe(
        1,
      );
      const big = new Uint8Array(65536);
      const one = new Int32Array(1);
      const g = new Int32Array(1);
      expect(
        sys.recvBatch6(v6.rx, big, i32(0), one, 1, 65536, new Uint32Array(4), new Int32Array(1), g, 1000),
      ).toBe(1);
      expect([one[0], g[0]]).toEqual([3000, 1000]); // one message of three 1000-byte datagrams
      expect(Buffer.from(big.subarray(0, 3000)).equals(Buffer.from(slab.subarray(0, 3000)))).toBe(true);
    } finally {
      sys.udpSetGro(v6.rx, false);
    }
  });
});

describe('udpOpen6', () => {
  const args = (): unknown[] => [LOOPBACK6, 0, 0, 0, false];
  it('rejects addresses that are not 4 words, and ports, buffer sizes and flags out of range', () => {
    rejects('udpOpen6', args(), 0, NOT_U32, 'TypeError');
    rejects('udpOpen6', args(), 0, [0x7f000001, '::1', [0, 0, 0, 1]], 'TypeError');
    rejects(
      'udpOpen6',
      args(),
      0,
      [new Uint32Array(0), new Uint32Array(3), new Uint32Array(5)],
      'RangeError',
    );
    checksInt('udpOpen6', args(), 1, [...BAD_INTS, 65536]);
    checksInt('udpOpen6', args(), 2);
    checksInt('udpOpen6', args(), 3);
    rejects('udpOpen6', args(), 4, BAD_BOOLS, 'TypeError');
  });

  it('reports a bind to an address this host does not have as an errno', () => {
    // fd00::1234 (ULA) is on no interface of this namespace's test host.
    expect(errnoOf(() => sys.udpOpen6(Uint32Array.from([0xfd000000, 0, 0, 0x1234]), 0, 0, 0))).toBe(
      'EADDRNOTAVAIL',
    );
    const any = sys.udpOpen6(ANY6, 0, 0, 0);
    sys.close(any);
  });
});

describe('recvBatch6', () => {
  const args = (): unknown[] => [
    v6.rx,
    new Uint8Array(4096),
    i32(0, 2048),
    new Int32Array(2),
    2,
    2048,
    new Uint32Array(8),
    new Int32Array(2),
    new Int32Array(2),
    0,
  ];
  it('rejects bad fds, counts, capacities, timeouts and array kinds', () => {
    checksInt('recvBatch6', args(), 0);
    checksInt('recvBatch6', args(), 4);
    checksInt('recvBatch6', args(), 5);
    checksInt('recvBatch6', args(), 9, BAD_TIMEOUTS);
    rejects('recvBatch6', args(), 1, NOT_U8, 'TypeError');
    for (const i of [2, 3, 7, 8]) rejects('recvBatch6', args(), i, NOT_I32, 'TypeError');
    rejects('recvBatch6', args(), 6, NOT_U32, 'TypeError');
    rejects('recvBatch6', args(), 4, [3], 'RangeError');
    rejects('recvBatch6', args(), 5, [0, 4097, 2 ** 31 - 1], 'RangeError');
  });

  it('needs four address words per message: seven words for two messages is refused before the receive', () => {
    drain6();
    sys.sendBatch6(v6.tx, new Uint8Array(8), i32(0), i32(8), 0, 1, LOOPBACK6, i32(v6.rxPort), i32(0));
    const whole = new Uint32Array(9).fill(0xa5a5a5a5);
    const seven = whole.subarray(0, 7);
    for (const addrs of [seven, new Uint32Array(2), new Uint32Array(4)])
      expect(() =>
        sys.recvBatch6(
          v6.rx,
          new Uint8Array(4096),
          i32(0, 2048),
          new Int32Array(2),
          2,
          2048,
          addrs,
          i32(0, 0),
          i32(0, 0),
          0,
        ),
      ).toThrow(/^recvBatch6: addrs \(4 words each\), ports and gso must hold count = 2 messages/);
    expect([...whole]).toEqual(new Array(9).fill(0xa5a5a5a5));
    drain6();
  });

  it('refuses a slot outside the slab, so nothing outside is written', () => {
    const { slab, intact } = guardedSlab();
    for (const off of [-64, SLAB - 63, 2 ** 31 - 1]) {
      drain6();
      sys.sendBatch6(v6.tx, new Uint8Array(64), i32(0), i32(64), 0, 1, LOOPBACK6, i32(v6.rxPort), i32(0));
      expect(() =>
        fn('recvBatch6')(
          v6.rx,
          slab,
          i32(off),
          new Int32Array(1),
          1,
          64,
          new Uint32Array(4),
          i32(0),
          i32(0),
          -1,
        ),
      ).toThrow(RangeError);
      expect(intact()).toBe(true);
    }
    drain6();
  });

  it('reports a closed fd as EBADF', () => {
    expect(
      errnoOf(() =>
        sys.recvBatch6(
          CLOSED_FD,
          new Uint8Array(64),
          i32(0),
          i32(0),
          1,
          64,
          new Uint32Array(4),
          i32(0),
          i32(0),
          0,
        ),
      ),
    ).toBe('EBADF');
  });
});

describe('a socket of the other family', () => {
  it('recvBatch on an AF_INET6 socket reports address 0, port 0: the name is a sockaddr_in6, not the sockaddr_in it would read', () => {
    drain6();
    const slab = new Uint8Array(64);
    expect(sys.sendBatch6(v6.tx, slab, i32(0), i32(8), 0, 1, LOOPBACK6, i32(v6.rxPort), i32(0))).toBe(1);
    const from = Uint32Array.from([0xdeadbeef]);
    const ports = Int32Array.from([-7]);
    const lens = new Int32Array(1);
    expect(sys.recvBatch(v6.rx, new Uint8Array(64), i32(0), lens, 1, 64, from, ports, i32(0), 1000)).toBe(1);
    expect(lens[0]).toBe(8);
    // Not the sender's port (sin6_port lies where sin_port would) nor sin6_flowinfo as an address.
    expect([from[0], ports[0]]).toEqual([0, 0]);
  });
});

describe('sendBatch6', () => {
  const args = (): unknown[] => [
    v6.tx,
    new Uint8Array(4096),
    i32(0),
    i32(8),
    0,
    0,
    LOOPBACK6,
    i32(9),
    i32(0),
  ];
  it('rejects bad fds, starts, counts and array kinds', () => {
    checksInt('sendBatch6', args(), 0);
    checksInt('sendBatch6', args(), 4);
    checksInt('sendBatch6', args(), 5);
    rejects('sendBatch6', args(), 1, NOT_U8, 'TypeError');
    for (const i of [2, 3, 7, 8]) rejects('sendBatch6', args(), i, NOT_I32, 'TypeError');
    rejects('sendBatch6', args(), 6, NOT_U32, 'TypeError');
    rejects('sendBatch6', args(), 4, [2], 'RangeError');
    rejects('sendBatch6', args(), 5, [2], 'RangeError');
  });

  it('counts messages by whole addresses: 3 address words hold no message, 7 hold one', () => {
    const send = (words: number, count: number): unknown =>
      sys.sendBatch6(
        v6.tx,
        new Uint8Array(64),
        i32(0, 8),
        i32(8, 8),
        0,
        count,
        new Uint32Array(words),
        i32(9, 9),
        i32(0, 0),
      );
    expect(() => send(3, 1)).toThrow(/^sendBatch6: count must be an integer in 0\.\.0, got 1$/);
    expect(() => send(7, 2)).toThrow(/^sendBatch6: count must be an integer in 0\.\.1, got 2$/);
  });

  it('refuses messages outside the slab, and ports or GSO sizes that do not fit 16 bits', () => {
    const slab = new Uint8Array(4096);
    const send = (off: number, len: number, port: number, gso: number): unknown =>
      sys.sendBatch6(v6.tx, slab, i32(off), i32(len), 0, 1, LOOPBACK6, i32(port), i32(gso));
    for (const [off, len] of [
      [-1, 8],
      [0, -1],
      [4090, 7],
      [2 ** 31 - 1, 2 ** 31 - 1],
    ])
      expect(() => send(off!, len!, v6.rxPort, 0), `${off}+${len}`).toThrow(RangeError);
    for (const port of [-1, 65536]) expect(() => send(0, 8, port, 0), `port ${port}`).toThrow(RangeError);
    for (const gso of [-1, 65536]) expect(() => send(0, 8, v6.rxPort, gso), `gso ${gso}`).toThrow(RangeError);
  });

  it('returns -errno for a closed fd and for an IPv4 socket', () => {
    const send = (fd: number): unknown =>
      sys.sendBatch6(fd, new Uint8Array(64), i32(0), i32(8), 0, 1, LOOPBACK6, i32(v6.rxPort), i32(0));
    expect(send(CLOSED_FD)).toBe(-9); // EBADF
    expect(send(v6.v4)).toBeLessThan(0); // an AF_INET socket refuses an AF_INET6 destination
  });
});

describe('sendvBatch6', () => {
  const args = (): unknown[] => [
    v6.tx,
    new Uint8Array(4096),
    i32(0),
    i32(8),
    i32(0),
    i32(1),
    0,
    0,
    LOOPBACK6,
    i32(9),
    i32(0),
  ];
  it('rejects bad fds, starts, counts and array kinds', () => {
    checksInt('sendvBatch6', args(), 0);
    checksInt('sendvBatch6', args(), 6);
    checksInt('sendvBatch6', args(), 7);
    rejects('sendvBatch6', args(), 1, NOT_U8, 'TypeError');
    for (const i of [2, 3, 4, 5, 9, 10]) rejects('sendvBatch6', args(), i, NOT_I32, 'TypeError');
    rejects('sendvBatch6', args(), 8, NOT_U32, 'TypeError');
    rejects('sendvBatch6', args(), 6, [2], 'RangeError');
    rejects('sendvBatch6', args(), 7, [2], 'RangeError');
    // 3 words are no whole address: no message may be sent.
    const a = args();
    a[7] = 1;
    rejects('sendvBatch6', a, 8, [new Uint32Array(3)], 'RangeError');
  });

  it('refuses iovecs outside the slab and ranges outside the iovec list', () => {
    const slab = new Uint8Array(256);
    const send = (offs: Int32Array, lens: Int32Array, first: Int32Array, counts: Int32Array): unknown =>
      sys.sendvBatch6(v6.tx, slab, offs, lens, first, counts, 0, 1, LOOPBACK6, i32(v6.rxPort), i32(0));
    expect(() => send(i32(250), i32(10), i32(0), i32(1))).toThrow(/^sendvBatch6: .*outside the slab/);
    expect(() => send(i32(-1), i32(10), i32(0), i32(1))).toThrow(/^sendvBatch6: .*outside the slab/);
    expect(() => send(i32(0), i32(10), i32(1), i32(1))).toThrow(/^sendvBatch6: .*iovec range/);
    expect(() => send(i32(0), i32(10), i32(0), i32(2 ** 31 - 1))).toThrow(/^sendvBatch6: .*iovec range/);
  });

  it('returns -errno for a closed fd', () => {
    expect(
      sys.sendvBatch6(
        CLOSED_FD,
        new Uint8Array(64),
        i32(0),
        i32(8),
        i32(0),
        i32(1),
        0,
        1,
        LOOPBACK6,
        i32(9),
        i32(0),
      ),
    ).toBe(-9);
  });
});
