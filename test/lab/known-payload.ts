/**
 * UDP datagrams of one known random payload from pod to pod, counted at the receiver: traffic
 * whose plaintext a test can look for on the underlay (and must never find).
 */
import { readyFile } from './ready-file.js';
import { inPod, type Pod } from './pods.js';

/** Sends `count` copies of `payload` from `from` to `to`; resolves with how many arrived intact. */
export async function sendKnownPayload(
  from: Pod,
  to: Pod,
  payload: Uint8Array,
  count: number,
): Promise<number> {
  const hex = Buffer.from(payload).toString('hex');
  // Port 0: the kernel picks a free port and the receiver reports it through the ready file; a
  // port drawn at random could already be taken in the pod.
  const ready = await readyFile();
  const server = inPod(
    to,
    'timeout',
    [
      '60',
      'python3',
      '-c',
      `
import socket
want = bytes.fromhex('${hex}')
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('${to.ip}', 0)); s.settimeout(3)
${ready.pythonPort('s')}
n = 0
try:
  while True:
    d = s.recv(65535)
    if d == b'end': break
    if d == want: n += 1
except socket.timeout:
  pass
print(n)
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
  const client = await inPod(
    from,
    'python3',
    [
      '-c',
      `
import socket, time
d = bytes.fromhex('${hex}')
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${count}):
  s.sendto(d, ('${to.ip}', ${port})); time.sleep(0.002)
time.sleep(0.5); s.sendto(b'end', ('${to.ip}', ${port}))
`,
    ],
    90_000,
  );
  if (client.code !== 0) throw new Error(`known-payload sender in ${from.ns}: ${client.stderr.trim()}`);
  return Number((await server).stdout.trim());
}
