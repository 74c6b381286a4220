/** Traffic helpers for the end-to-end suites: a checked TCP transfer between pods. */
import { readyFile } from './ready-file.js';
import { inPod, type Pod } from './pods.js';

/**
 * Sends `mb` MiB of random data over TCP from one pod to another; returns the SHA-256 computed by
 * the sender and by the receiver (equal when nothing was lost or corrupted).
 */
export async function transfer(from: Pod, to: Pod, mb: number): Promise<{ sent: string; received: string }> {
  const port = 5000 + Math.floor(Math.random() * 1000);
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
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('${to.ip}',${port})); s.listen(1)
${ready.python}
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
  try {
    await ready.wait(server);
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
import socket,hashlib,os
s=socket.create_connection(('${to.ip}',${port})); h=hashlib.sha256()
for i in range(${mb * 4}):
  d=os.urandom(1<<18); h.update(d); s.sendall(d)
s.close(); print(h.hexdigest())
`,
    ],
    90_000,
  );
  const [c, s] = await Promise.all([client, server]);
  return { sent: c.stdout.trim(), received: s.stdout.trim() };
}
