/**
 * Proves the udp backend's per-CPU steering without depending on where the kernel runs softirqs:
 * run inside a throwaway network namespace (`ip netns exec NS node steering-probe.js QUEUES`), it
 * opens a multi-queue TUN and a SO_REUSEPORT group with the backend's own openTun/openUdp, then,
 * for each CPU, sends from a process pinned to that CPU and reports which queue got the packets.
 *
 * Both sends are decided on the sending CPU, synchronously:
 * - a ping routed into the TUN picks its queue in the sender's own transmit call
 *   (the TUN's eBPF steering program runs there);
 * - a datagram to 127.0.0.1 is received by loopback's backlog on the sending CPU, in the softirq
 *   that the sender's own syscall runs when it re-enables bottom halves (RPS is cleared on lo
 *   below, so nothing moves it), and the reuseport program picks the socket there.
 * Prints one JSON line: { perCpu, tun: counts[cpu][queue], udp: counts[cpu][queue], problems }.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { openTun, openUdp } from '../../sys/open-queues.js';
import { nativeTunIo, nativeUdpIo } from '../../sys/native-io.js';

const TUN = 'ovlsteer0';
const TUN_ADDR = '198.19.255.1/24';
const TARGET = [198, 19, 255, 2] as const;
const UDP_PORT = 8285;
const PER_CPU = 8;

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function isEchoToTarget(b: Uint8Array, off: number, len: number): boolean {
  const ihl = (b[off]! & 0x0f) * 4;
  return (
    len >= ihl + 8 &&
    b[off]! >> 4 === 4 &&
    b[off + 9] === 1 &&
    b[off + ihl] === 8 &&
    TARGET.every((v, i) => b[off + 16 + i] === v)
  );
}

/** Packets waiting in each queue now (the probe reads nothing until the sends are done). */
function drain(fds: readonly number[], kind: 'tun' | 'udp'): number[] {
  const cap = 2048;
  const n = 64;
  const slab = new Uint8Array(cap * n);
  const offs = new Int32Array(n).map((_, i) => i * cap);
  const lens = new Int32Array(n);
  const addrs = new Uint32Array(n);
  const ports = new Int32Array(n);
  const gso = new Int32Array(n);
  return fds.map((fd) => {
    const tun = kind === 'tun' ? nativeTunIo(fd) : undefined;
    const udp = kind === 'udp' ? nativeUdpIo(fd) : undefined;
    let count = 0;
    for (;;) {
      const got = tun
        ? tun.read(slab, offs, lens, n, cap, 0)
        : udp!.recv(slab, offs, lens, n, cap, addrs, ports, gso, 0);
      if (got <= 0) return count;
      for (let i = 0; i < got; i++) {
        if (kind === 'udp' || isEchoToTarget(slab, offs[i]!, lens[i]!)) count++;
      }
    }
  });
}

function main(): void {
  const queues = Number(process.argv[2]);
  if (!Number.isInteger(queues) || queues < 2) throw new Error('usage: steering-probe.js QUEUES (>= 2)');
  const cpuCount = cpus().length;
  // Nothing but our sends may reach the queues, and loopback must not hand packets to other CPUs.
  writeFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', '1');
  writeFileSync('/proc/sys/net/ipv6/conf/default/disable_ipv6', '1');
  sh('ip', ['link', 'set', 'lo', 'up']);
  writeFileSync('/sys/class/net/lo/queues/rx-0/rps_cpus', '0');

  const tun = openTun(TUN, queues, false);
  sh('ip', ['addr', 'add', TUN_ADDR, 'dev', TUN]);
  sh('ip', ['link', 'set', TUN, 'up']);
  const udp = openUdp(0x7f000001, UDP_PORT, queues, 1 << 20);
  const problems = [...tun.problems, ...udp.problems];
  const result = { perCpu: PER_CPU, tun: [] as number[][], udp: [] as number[][], problems };
  if (tun.fds.length === queues && udp.fds.length === queues) {
    for (let cpu = 0; cpu < cpuCount; cpu++) {
      const c = String(cpu);
      // ping exits 1 when nobody answers; the requests are what counts.
      try {
        sh('taskset', [
          '-c',
          c,
          'ping',
          '-n',
          '-q',
          '-c',
          String(PER_CPU),
          '-i',
          '0.002',
          '-W',
          '0.01',
          TARGET.join('.'),
        ]);
      } catch {
        // no replies, as intended
      }
      result.tun.push(drain(tun.fds, 'tun'));
      sh('taskset', [
        '-c',
        c,
        'bash',
        '-c',
        `for i in $(seq ${PER_CPU}); do printf x >/dev/udp/127.0.0.1/${UDP_PORT}; done`,
      ]);
      result.udp.push(drain(udp.fds, 'udp'));
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main();
