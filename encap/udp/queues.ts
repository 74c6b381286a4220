/**
 * Per-CPU datapath queues. The kernel produces a packet for the TUN on the CPU where the pod sent
 * it, and a datagram for the UDP socket on the CPU that ran the receive softirq; with one queue
 * (a TUN queue, a socket and a worker) per CPU group, steered by CPU number, the worker that
 * handles a packet is the one pinned to that CPU. Waking it is then a context switch, not a
 * wake-up of another CPU — which on a VM with halted vCPUs costs tens of µs per hop.
 * Queue q serves the CPUs c with c % queues === q (the steering programs compute the same).
 */

/** More queues than this need as many worker isolates (memory) for little gain: opt in. */
export const MAX_AUTO_QUEUES = 4;
export const MAX_QUEUES = 8;

/** `--udp-queues`: 'auto' (one per online CPU, at most MAX_AUTO_QUEUES) or a count (default 1). */
export function queueCount(option: string | undefined, onlineCpus: number): number {
  const cpus = Math.max(1, Math.floor(onlineCpus));
  if (option === undefined) return 1;
  if (option === 'auto') return Math.min(cpus, MAX_AUTO_QUEUES);
  const n = Number(option);
  if (!Number.isInteger(n) || n < 1 || n > MAX_QUEUES)
    throw new RangeError(`udp queues: ${JSON.stringify(option)} is not auto or 1..${MAX_QUEUES}`);
  return n;
}

/** The CPUs queue `q` serves, hence where its worker runs (empty: more queues than CPUs). */
export function cpusOfQueue(q: number, queues: number, onlineCpus: number): number[] {
  const out: number[] = [];
  for (let c = q; c < onlineCpus; c += queues) out.push(c);
  return out;
}
