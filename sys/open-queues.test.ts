/**
 * The UDP side of the datapath queues on real loopback sockets: a SO_REUSEPORT group must not let
 * a second flanneld/overlayd share the port unnoticed, and every socket of the group receives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { nativeSys } from './native.js';
import { openUdp } from './open-queues.js';

const LOOPBACK = 0x7f000001;
const sys = nativeSys();
const open: number[] = [];

/** Opens `queues` sockets at a free port (random, retried: other tests may hold ports). */
function openAtFreePort(queues: number): { fds: number[]; port: number } {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    try {
      const { fds } = openUdp(LOOPBACK, port, queues, 1 << 20);
      open.push(...fds);
      return { fds, port };
    } catch (err) {
      if (!/EADDRINUSE|address already in use/i.test(String(err)) || attempt > 20) throw err;
    }
  }
}

afterEach(() => {
  for (const fd of open.splice(0)) sys.close(fd);
});

describe('openUdp', () => {
  it('opens one socket per queue on one port', () => {
    const { fds } = openAtFreePort(2);
    expect(fds).toHaveLength(2);
    expect(new Set(fds).size).toBe(2);
  });

  it('refuses a port a reuseport group of ours already holds, naming the likely cause', () => {
    const { port } = openAtFreePort(2);
    expect(() => openUdp(LOOPBACK, port, 2, 1 << 20)).toThrow(
      new RegExp(`cannot bind UDP 127\\.0\\.0\\.1:${port}: .*is another flanneld/overlayd running\\?`),
    );
    expect(() => openUdp(LOOPBACK, port, 1, 1 << 20)).toThrow(/is another flanneld\/overlayd running/);
  });

  it('refuses a port a plain socket (flanneld) holds, also with several queues', () => {
    const { port } = openAtFreePort(1);
    expect(() => openUdp(LOOPBACK, port, 4, 1 << 20)).toThrow(/is another flanneld\/overlayd running/);
  });

  it('delivers to the group: every datagram sent lands on one of its sockets', () => {
    const { fds, port } = openAtFreePort(2);
    const tx = openAtFreePort(1).fds[0]!;
    const slab = new Uint8Array(4096);
    const offs = Int32Array.of(0, 1024);
    const lens = Int32Array.of(100, 100);
    const addrs = Uint32Array.of(LOOPBACK, LOOPBACK);
    const ports = Int32Array.of(port, port);
    const gso = new Int32Array(2);
    for (let i = 0; i < 10; i++) expect(sys.sendBatch(tx, slab, offs, lens, 0, 1, addrs, ports, gso)).toBe(1);
    let got = 0;
    for (const fd of fds) {
      for (;;) {
        const n = sys.recvBatch(fd, slab, offs, lens, 2, 1000, addrs, ports, gso, 0);
        if (n === 0) break;
        got += n;
      }
    }
    expect(got).toBe(10);
  });
});
