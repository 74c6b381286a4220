/** Traffic helpers for the end-to-end suites: a checked TCP transfer between pods (either family). */
import { readyFile } from './ready-file.js';
import { inPod, type Pod } from './pods.js';

/**
 * Sends `mb` MiB of random data over TCP from one pod to another; returns the SHA-256 computed by
 * the sender and by the receiver (equal when nothing was lost or corrupted). With `spreadSeconds`
 * the sender paces its 256 KiB writes so the transfer lasts at least that long whatever the
 * machine's speed: a test that needs traffic running across a timer's deadline gets it by
 * construction, not by luck.
 */
export async function transfer(
  from: Pod,
  to: Pod,
  mb: number,
  opts: { spreadSeconds?: number } = {},
): Promise<{ sent: string; received: string }> {
  const spread = opts.spreadSeconds ?? 0;
  if (!(spread >= 0 && spread <= 45)) throw new Error(`transfer: spreadSeconds ${spread} outside 0..45`);
  // Port 0: the kernel picks a free port and the listener reports it through the ready file; a
  // port drawn at random could already be taken in the pod (another transfer to it, a listener).
  const ready = await readyFile();
  const server = inPod(
    to,
    'timeout',
    [
      '60',
      'python3',
      '-c',
      `
import socket,hashlib
s=socket.socket(socket.AF_INET6 if ':' in '${to.ip}' else socket.AF_INET); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('${to.ip}',0)); s.listen(1)
${ready.pythonPort('s')}
c,_=s.accept(); h=hashlib.sha256()
while True:
  d=c.recv(1<<20)
  if not d: break
  h.update(d)
print(h.hexdigest())
`,
    ],
    90_000,
  );
  let port: number;
  try {
    port = await ready.port(server);
  } finally {
    await ready.remove();
  }
  const client = inPod(
    from,
    'timeout',
    [
      '60',
      'python3',
      '-c',
      `
import socket,hashlib,os,time
s=socket.create_connection(('${to.ip}',${port})); h=hashlib.sha256()
n=${mb * 4}; t0=time.monotonic()
for i in range(n):
  due=t0+${spread}*i/n; now=time.monotonic()
  if due>now: time.sleep(due-now)
  d=os.urandom(1<<18); h.update(d); s.sendall(d)
s.close(); print(h.hexdigest())
`,
    ],
    90_000,
  );
  const [c, s] = await Promise.all([client, server]);
  return { sent: c.stdout.trim(), received: s.stdout.trim() };
}
