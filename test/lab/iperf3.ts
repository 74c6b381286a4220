/**
 * An iperf3 server in a pod on a port the kernel chose, returned once the kernel lists it as
 * listening: a test connects to a port that is free and a server that is there, whatever the
 * machine's speed, instead of a fixed port (taken if anything else in the pod uses it) and a fixed
 * sleep (too short when the machine is busy: the client's connect is then refused).
 */
import { readyFile } from './ready-file.js';
import { inPod, type Pod } from './pods.js';
import type { RunResult } from './shell.js';

export interface Iperf3Server {
  readonly port: number;
  /** The server's exit, after its one client (`-1`). */
  readonly done: Promise<RunResult>;
}

/** Starts `iperf3 -s -1` on the pod's address; resolves when it is listening. */
export async function iperf3Server(pod: Pod, timeoutMs: number): Promise<Iperf3Server> {
  // iperf3 refuses `-p 0`, so a bound socket reserves a kernel-chosen port and is inherited across
  // the exec: the kernel never gives a port held by bind() to another socket, and Linux lets
  // iperf3 bind and listen on it too because both set SO_REUSEADDR and the holder never listens.
  const ready = await readyFile();
  const done = inPod(
    pod,
    'python3',
    [
      '-c',
      `
import os,socket
ip='${pod.ip}'
s=socket.socket(socket.AF_INET6 if ':' in ip else socket.AF_INET); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((ip,0))
os.set_inheritable(s.fileno(), True)
${ready.pythonPort('s')}
os.execvp('iperf3', ['iperf3','-s','-1','-B',ip,'-p',str(s.getsockname()[1])])
`,
    ],
    timeoutMs,
  );
  let port: number;
  try {
    port = await ready.port(done);
  } finally {
    await ready.remove();
  }
  let ended: RunResult | undefined;
  void done.then((r) => (ended = r));
  for (const deadline = Date.now() + 30_000; ;) {
    const ss = await inPod(pod, 'ss', ['-Hltn', `sport = :${port}`]);
    if (ss.code === 0 && ss.stdout.trim() !== '') return { port, done };
    if (ended) throw new Error(`iperf3 server in ${pod.ns} exited before listening: ${ended.stderr.trim()}`);
    if (Date.now() > deadline)
      throw new Error(`iperf3 server in ${pod.ns} not listening on ${port} after 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
