/** The addon's scatter-gather calls on real loopback sockets and a real file: gathered bytes arrive as sent; bad arguments throw. */
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOOPBACK, LoopbackSockets } from '../test/support/loopback-sockets.js';
import { nativeSys } from './native.js';

const sys = nativeSys();
const sockets = new LoopbackSockets(sys);

afterEach(() => sockets.closeAll());

const i32 = (...v: number[]): Int32Array => Int32Array.from(v);

describe('sendvBatch', () => {
  it('cuts a message of alternating header and payload iovecs into UDP_SEGMENT datagrams', () => {
    expect(sys.sgProbe()).toBe(0);
    const rx = sockets.bind();
    const tx = sockets.bind();
    const slab = new Uint8Array(4096);
    for (let i = 0; i < slab.length; i++) slab[i] = i & 0xff;
    // message 0: two segments of 8 + 100 bytes (headers at 0 and 8, payloads at 1000 and 1100),
    // message 1: one plain range.
    const offs = i32(0, 1000, 8, 1100, 3000);
    const lens = i32(8, 100, 8, 60, 30);
    const first = i32(0, 4);
    const counts = i32(4, 1);
    const addrs = Uint32Array.from([LOOPBACK, LOOPBACK]);
    const ports = i32(rx.port, rx.port);
    expect(sys.sendvBatch(tx.fd, slab, offs, lens, first, counts, 0, 2, addrs, ports, i32(108, 0))).toBe(2);
    const r = new Uint8Array(3 * 2048);
    const rl = new Int32Array(3);
    const n = sys.recvBatch(
      rx.fd,
      r,
      i32(0, 2048, 4096),
      rl,
      3,
      2048,
      new Uint32Array(3),
      new Int32Array(3),
      new Int32Array(3),
      1000,
    );
    expect(n).toBe(3);
    expect([...rl]).toEqual([108, 68, 30]);
    const want = (ranges: [number, number][]) =>
      Buffer.concat(ranges.map(([o, l]) => slab.subarray(o, o + l)));
    expect(
      Buffer.from(r.subarray(0, 108)).equals(
        want([
          [0, 8],
          [1000, 100],
        ]),
      ),
    ).toBe(true);
    expect(
      Buffer.from(r.subarray(2048, 2048 + 68)).equals(
        want([
          [8, 8],
          [1100, 60],
        ]),
      ),
    ).toBe(true);
    expect(Buffer.from(r.subarray(4096, 4096 + 30)).equals(want([[3000, 30]]))).toBe(true);
  });

  it('refuses iovecs outside the slab, ranges outside the iovec arrays and wrong array kinds', () => {
    const tx = sockets.bind();
    const slab = new Uint8Array(256);
    const a = Uint32Array.from([LOOPBACK]);
    const send = (
      offs: Int32Array,
      lens: Int32Array,
      first: Int32Array,
      counts: Int32Array,
      start = 0,
      count = 1,
    ) => sys.sendvBatch(tx.fd, slab, offs, lens, first, counts, start, count, a, i32(9), i32(0));
    expect(() => send(i32(250), i32(10), i32(0), i32(1))).toThrow(/outside the slab/);
    expect(() => send(i32(-1), i32(10), i32(0), i32(1))).toThrow(/outside the slab/);
    expect(() => send(i32(10), i32(2 ** 31 - 1), i32(0), i32(1))).toThrow(/outside the slab/);
    expect(() => send(i32(0), i32(10), i32(1), i32(1))).toThrow(/iovec range/);
    expect(() => send(i32(0), i32(10), i32(0), i32(0))).toThrow(/iovec range/);
    expect(() => send(i32(0), i32(10), i32(0), i32(2 ** 31 - 1))).toThrow(/iovec range/);
    expect(() => send(i32(0), i32(10), i32(0), i32(1), 1, 1)).toThrow(
      /sendvBatch: count must be .* 0\.\.0\b/,
    );
    expect(() => send(i32(0), i32(10), i32(0), i32(1), -1, 1)).toThrow(/sendvBatch: start must be/);
    expect(() => send(i32(0), i32(10), i32(0), i32(1), 0, 2 ** 31 - 1)).toThrow(/sendvBatch: count must be/);
    expect(() =>
      sys.sendvBatch(
        tx.fd,
        slab,
        i32(0),
        i32(10),
        i32(0),
        i32(1),
        0,
        1,
        i32(LOOPBACK) as unknown as Uint32Array,
        i32(9),
        i32(0),
      ),
    ).toThrow(/sendvBatch: addrs must be a Uint32Array, got an Int32Array/);
    expect(() =>
      sys.sendvBatch(
        tx.fd,
        new Uint16Array(8) as unknown as Uint8Array,
        i32(0),
        i32(10),
        i32(0),
        i32(1),
        0,
        1,
        a,
        i32(9),
        i32(0),
      ),
    ).toThrow(/sendvBatch: slab must be a Uint8Array, got a Uint16Array/);
  });
});

describe('writevBatch', () => {
  it('writes each packet gathered from its ranges with one writev, and refuses bad ranges', () => {
    const dir = mkdtempSync(join(tmpdir(), 'overlayd-sg-'));
    try {
      const path = join(dir, 'out');
      const fd = openSync(path, 'w');
      sockets.track(fd);
      const slab = new Uint8Array(512);
      for (let i = 0; i < slab.length; i++) slab[i] = (i * 7) & 0xff;
      const errs = new Int32Array(2);
      const offs = i32(100, 0, 300, 50);
      const lens = i32(10, 20, 5, 1);
      expect(sys.writevBatch(fd, slab, offs, lens, i32(0, 3), i32(3, 1), 2, errs)).toBe(2);
      expect(errs[0]).toBe(0);
      const want = Buffer.concat([
        slab.subarray(100, 110),
        slab.subarray(0, 20),
        slab.subarray(300, 305),
        slab.subarray(50, 51),
      ]);
      expect(readFileSync(path).equals(want)).toBe(true);
      expect(() => sys.writevBatch(fd, slab, i32(510), i32(5), i32(0), i32(1), 1, errs)).toThrow(
        /outside the slab/,
      );
      expect(() => sys.writevBatch(fd, slab, i32(0), i32(5), i32(0), i32(2), 1, errs)).toThrow(/iovec range/);
      expect(() => sys.writevBatch(fd, slab, i32(0), i32(5), i32(0), i32(1), 2, errs)).toThrow(
        /writevBatch: count must be .* 0\.\.1\b/,
      );
      expect(() => sys.writevBatch(fd, slab, i32(0), i32(5), i32(0), i32(1), 1, new Int32Array(1))).toThrow(
        /writevBatch: errs must have 2 entries/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
