/** The addon's UDP batch calls on real loopback sockets: what goes out is what comes in, in order. */
import { afterEach, describe, expect, it } from 'vitest';
import { LOOPBACK, LoopbackSockets } from '../test/support/loopback-sockets.js';
import { nativeSys } from './native.js';

const sys = nativeSys();
const sockets = new LoopbackSockets(sys);

afterEach(() => sockets.closeAll());

describe('sendBatch / recvBatch', () => {
  it('sends only messages start .. start+count-1, each to its own address and port', () => {
    const rx = sockets.bind();
    const tx = sockets.bind();
    const slab = new Uint8Array(new SharedArrayBuffer(4 * 256));
    const offs = Int32Array.from([0, 256, 512, 768]);
    const lens = Int32Array.from([10, 20, 30, 40]);
    for (let i = 0; i < 4; i++) slab.fill(i + 1, offs[i]!, offs[i]! + lens[i]!);
    const addrs = Uint32Array.from([LOOPBACK, LOOPBACK, LOOPBACK, LOOPBACK]);
    const ports = Int32Array.from([rx.port, rx.port, rx.port, rx.port]);
    const gso = new Int32Array(4);

    expect(sys.sendBatch(tx.fd, slab, offs, lens, 2, 2, addrs, ports, gso)).toBe(2);

    const rslab = new Uint8Array(new SharedArrayBuffer(4 * 2048));
    const roffs = Int32Array.from([0, 2048, 4096, 6144]);
    const rlens = new Int32Array(4);
    const from = new Uint32Array(4);
    const fromPorts = new Int32Array(4);
    const rgso = new Int32Array(4);
    const n = sys.recvBatch(rx.fd, rslab, roffs, rlens, 4, 2048, from, fromPorts, rgso, 1000);
    expect(n).toBe(2);
    expect([...rlens.subarray(0, 2)]).toEqual([30, 40]);
    expect(rslab.subarray(0, 30).every((b) => b === 3)).toBe(true);
    expect(rslab.subarray(2048, 2048 + 40).every((b) => b === 4)).toBe(true);
    expect([from[0], from[1]]).toEqual([LOOPBACK, LOOPBACK]);
    expect([fromPorts[0], fromPorts[1]]).toEqual([tx.port, tx.port]);
  });

  it("sends nothing for start = the arrays' length and count 0; a start or count past them is a RangeError", () => {
    const rx = sockets.bind();
    const tx = sockets.bind();
    const slab = new Uint8Array(new SharedArrayBuffer(256));
    const one = (v: number): Int32Array => Int32Array.from([v]);
    const addrs = Uint32Array.from([LOOPBACK]);
    expect(sys.sendBatch(tx.fd, slab, one(0), one(8), 1, 0, addrs, one(rx.port), one(0))).toBe(0);
    expect(() => sys.sendBatch(tx.fd, slab, one(0), one(8), 1, 1, addrs, one(rx.port), one(0))).toThrow(
      /^sendBatch: count must be an integer in 0\.\.0, got 1$/,
    );
    expect(() => sys.sendBatch(tx.fd, slab, one(0), one(8), -1, 1, addrs, one(rx.port), one(0))).toThrow(
      /^sendBatch: start must be an integer in 0\.\.1, got -1$/,
    );
  });

  it('sends more than 256 messages in one call (in several sendmmsg), in order', () => {
    const rx = sockets.bind();
    const tx = sockets.bind();
    const n = 300;
    const slab = new Uint8Array(new SharedArrayBuffer(n * 4));
    const offs = Int32Array.from({ length: n }, (_, i) => i * 4);
    const lens = new Int32Array(n).fill(4);
    const view = new DataView(slab.buffer);
    for (let i = 0; i < n; i++) view.setUint32(i * 4, i);
    const addrs = new Uint32Array(n).fill(LOOPBACK);
    const ports = new Int32Array(n).fill(rx.port);
    expect(sys.sendBatch(tx.fd, slab, offs, lens, 0, n, addrs, ports, new Int32Array(n))).toBe(n);
    const rslab = new Uint8Array(256 * 64);
    const roffs = Int32Array.from({ length: 256 }, (_, i) => i * 64);
    const got: number[] = [];
    while (got.length < n) {
      const rl = new Int32Array(256);
      const k = sys.recvBatch(
        rx.fd,
        rslab,
        roffs,
        rl,
        256,
        64,
        new Uint32Array(256),
        new Int32Array(256),
        new Int32Array(256),
        1000,
      );
      expect(k).toBeGreaterThan(0);
      for (let i = 0; i < k; i++) got.push(new DataView(rslab.buffer).getUint32(i * 64));
    }
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
