import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { TunIo, UdpIo } from '../../sys/batch-io.js';
import { DatapathFault, watchIo } from './io-faults.js';

/** An error shaped like the native addon's (code + errno). */
function sysError(errno: number, code: string): Error {
  return Object.assign(new Error(`${code}`), { errno, code });
}

/** A TunIo/UdpIo whose every call runs the next scripted behaviour. */
function scripted(script: Array<() => number>): TunIo & UdpIo {
  let i = 0;
  const next = (): number => script[Math.min(i++, script.length - 1)]!();
  return { read: next, write: next, writev: next, recv: next, send: next, sendv: next };
}

const slab = new Uint8Array(64);
const a = new Int32Array(4);
const u = new Uint32Array(4);
const errs = new Int32Array(2);
const read = (t: TunIo): number => t.read(slab, a, a, 4, 16, 0);
const recv = (x: UdpIo): number => x.recv(slab, a, a, 4, 16, u, a, a, 0);
const send = (x: UdpIo): number => x.send(slab, a, a, 0, 1, u, a, a);

function faultOf(fn: () => unknown): DatapathFault {
  try {
    fn();
  } catch (err) {
    if (err instanceof DatapathFault) return err;
    throw err;
  }
  throw new Error('no fault raised');
}

describe('watchIo', () => {
  it('reports a deleted TUN at the first EBADFD on read or write', () => {
    const gone = scripted([
      () => {
        throw sysError(77, 'EBADFD');
      },
    ]);
    const io = watchIo(gone, gone, 'flannel0');
    const f = faultOf(() => read(io.tun));
    expect([f.reason, f.detail]).toEqual(['tun_deleted', 'TUN flannel0 deleted (read: EBADFD)']);

    const refusing = scripted([
      () => {
        errs[0]! += 2;
        errs[1] = 77;
        return 0;
      },
    ]);
    errs[0] = 0;
    const w = faultOf(() => watchIo(refusing, refusing, 'flannel0').tun.write(slab, a, a, 2, errs));
    expect(w.detail).toBe('TUN flannel0 deleted (write: EBADFD)');
  });

  it('lets a write refused for another errno (a TUN set down: EIO) through as per-packet drops', () => {
    const down = scripted([
      () => {
        errs[0]! += 1;
        errs[1] = constants.errno.EIO;
        return 0;
      },
    ]);
    errs[0] = 0;
    const io = watchIo(down, down, 'flannel0');
    for (let i = 0; i < 10; i++) expect(io.tun.write(slab, a, a, 1, errs)).toBe(0);
  });

  it('takes a receive error followed by a good receive as transient, five in a row as a broken socket', () => {
    const refused = (): number => {
      throw sysError(constants.errno.ECONNREFUSED, 'ECONNREFUSED');
    };
    const flaky = scripted([refused, () => 3, refused, refused, refused, refused, () => 1]);
    const io = watchIo(flaky, flaky, 'flannel0');
    expect(recv(io.udp)).toBe(0);
    expect(recv(io.udp)).toBe(3);
    for (let i = 0; i < 4; i++) expect(recv(io.udp)).toBe(0);
    expect(recv(io.udp)).toBe(1);

    const broken = scripted([
      () => {
        throw sysError(constants.errno.ENOTSOCK, 'ENOTSOCK');
      },
    ]);
    const b = watchIo(broken, broken, 'flannel0');
    for (let i = 0; i < 4; i++) expect(recv(b.udp)).toBe(0);
    const f = faultOf(() => recv(b.udp));
    expect([f.reason, f.detail]).toEqual(['socket_error', 'UDP socket receives keep failing (ENOTSOCK)']);
  });

  it('counts only socket-level send errors toward a fault, never a path error', () => {
    const unreachable = scripted([() => -constants.errno.ENETUNREACH]);
    const p = watchIo(unreachable, unreachable, 'flannel0');
    for (let i = 0; i < 50; i++) expect(send(p.udp)).toBe(-constants.errno.ENETUNREACH);

    const badf = scripted([() => -constants.errno.EBADF]);
    const b = watchIo(badf, badf, 'flannel0');
    for (let i = 0; i < 4; i++) send(b.udp);
    expect(faultOf(() => send(b.udp)).detail).toBe('UDP socket sends keep failing (EBADF)');
  });

  it('passes programmer errors (a TypeError from the addon) through unchanged', () => {
    const typeErr = scripted([
      () => {
        throw new TypeError('readBatch(fd, slab, offs, lens, count, cap, timeoutMs)');
      },
    ]);
    const io = watchIo(typeErr, typeErr, 'flannel0');
    expect(() => read(io.tun)).toThrow(TypeError);
    expect(() => recv(io.udp)).toThrow(TypeError);
  });
});
