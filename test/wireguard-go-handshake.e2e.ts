/**
 * Our WireGuard protocol code against Debian's wireguard-go, live, both roles:
 *   1. wireguard-go initiates (a ping through its wg0 to our allowed IP): our control plane consumes
 *      its initiation (MAC1, static key, timestamp), answers; wireguard-go accepts the response and
 *      sends the ping as transport data, which we decrypt; we seal an echo reply that wireguard-go
 *      accepts, so `ping` succeeds.
 *   2. We initiate: wireguard-go answers our initiation, we derive keys from its response, send an
 *      ICMP echo request through the session and decrypt the echo reply its kernel side sends back.
 *
 * Topology: one throwaway namespace (unique name, removed afterwards) with only loopback:
 * wireguard-go listens on 127.0.0.1:51820 with wg0 = 10.99.0.1/24; our side is a UDP socket inside
 * the namespace, relayed to this process over a child's stdin/stdout (the protocol code under test
 * runs here, pure). With WG_WRITE_FIXTURE=1 it records both exchanges and the keys that decrypt
 * them into encap/wireguard/protocol/fixtures/wireguard-go-handshake.json (the unit KAT).
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WgControlPlane, type WgAction, type WgSession } from '../encap/wireguard/protocol/control.js';
import { formatKey, keyPairFrom, type KeyPair } from '../encap/wireguard/protocol/keys.js';
import {
  decodeTransportHeader,
  paddedLength,
  writeTransportHeader,
  TRANSPORT_HEADER_BYTES,
} from '../encap/wireguard/protocol/messages.js';
import { aeadOpen, aeadSeal } from '../encap/wireguard/protocol/primitives.js';
import { must, run } from './lab/shell.js';

const NS = `ovl-${process.pid}-${randomBytes(3).toString('hex')}-wgp`;
const WG_PORT = 51820;
const EMPTY = new Uint8Array(0);

/** The UDP side of the test, inside the namespace: datagrams in and out as JSON lines. */
const RELAY = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => process.stdout.write(JSON.stringify({ hex: m.toString('hex'), address: r.address, port: r.port }) + '\\n'));
s.bind(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ listening: s.address().port }) + '\\n'));
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const d = JSON.parse(l); s.send(Buffer.from(d.hex, 'hex'), d.port, d.address);
});
process.stdin.on('end', () => process.exit(0));
`;

interface Datagram {
  bytes: Uint8Array;
  from: { address: string; port: number };
}

class Relay {
  private readonly queue: Datagram[] = [];
  private waiters: (() => void)[] = [];
  port = 0;
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const d = JSON.parse(line) as { listening?: number; hex?: string; address?: string; port?: number };
      if (d.listening) this.port = d.listening;
      else
        this.queue.push({
          bytes: new Uint8Array(Buffer.from(d.hex!, 'hex')),
          from: { address: d.address!, port: d.port! },
        });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  send(bytes: Uint8Array, to: { address: string; port: number }): void {
    this.child.stdin!.write(`${JSON.stringify({ hex: Buffer.from(bytes).toString('hex'), ...to })}\n`);
  }
  /** The next datagram whose first byte is `type`, skipping others; bounded wait. */
  async next(type: number, timeoutMs = 20_000): Promise<Datagram> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex((d) => d.bytes[0] === type);
      if (i >= 0) return this.queue.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no WireGuard message of type ${type} from wireguard-go within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  async ready(): Promise<void> {
    for (let i = 0; i < 100 && !this.port; i++) await new Promise((r) => setTimeout(r, 50));
    if (!this.port) throw new Error('UDP relay in the namespace did not start');
  }
}

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 ICMP echo (type 8 request / 0 reply) from src to dst. */
function icmpEcho(
  type: 0 | 8,
  src: number[],
  dst: number[],
  id: number,
  seq: number,
  data: Uint8Array,
): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  icmp[0] = type;
  icmp.set([id >> 8, id & 0xff, seq >> 8, seq & 0xff], 4);
  icmp.set(data, 8);
  const c = checksum(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  const ip = new Uint8Array(20 + icmp.length);
  ip.set([0x45, 0, ip.length >> 8, ip.length & 0xff, 0, 0, 0x40, 0, 64, 1, 0, 0, ...src, ...dst]);
  const h = checksum(ip.subarray(0, 20));
  ip[10] = h >> 8;
  ip[11] = h & 0xff;
  ip.set(icmp, 20);
  return ip;
}

function seal(session: WgSession, counter: number, packet: Uint8Array): Uint8Array {
  const padded = new Uint8Array(paddedLength(packet.length, 1420));
  padded.set(packet);
  const body = aeadSeal(session.sendKey, BigInt(counter), padded, EMPTY);
  const out = new Uint8Array(TRANSPORT_HEADER_BYTES + body.length);
  writeTransportHeader(out, 0, { receiver: session.remoteIndex, counter: BigInt(counter) });
  out.set(body, TRANSPORT_HEADER_BYTES);
  return out;
}

function open(session: WgSession, bytes: Uint8Array): { counter: bigint; plain: Uint8Array } {
  const h = decodeTransportHeader(bytes);
  if (!h.ok) throw new Error(`transport header: ${h.reason}`);
  expect(h.msg.receiver).toBe(session.localIndex);
  const plain = aeadOpen(session.recvKey, h.msg.counter, bytes.subarray(TRANSPORT_HEADER_BYTES), EMPTY);
  if (!plain) throw new Error('transport data from wireguard-go did not authenticate');
  return { counter: h.msg.counter, plain };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sessionOf = (a: readonly WgAction[]) => a.flatMap((x) => (x.kind === 'session' ? [x.session] : []))[0];
const sendOf = (a: readonly WgAction[]) => a.flatMap((x) => (x.kind === 'send' ? [x] : []))[0];

describe('interop with wireguard-go (Debian)', () => {
  let dir = '';
  let relay: Relay;
  let wgGo: ChildProcess;
  const wgKey = keyPairFrom(randomBytes(32));
  const ours = keyPairFrom(randomBytes(32));
  const fixture: Record<string, unknown> = {};

  /** A control plane for our side whose ephemeral keys and indices are recorded for the fixture. */
  function ourControlPlane(record: string): WgControlPlane {
    return new WgControlPlane({
      privateKey: ours.privateKey,
      now: () => performance.now(),
      random: (n) => new Uint8Array(randomBytes(n)),
      ephemeral: (): KeyPair => {
        const kp = keyPairFrom(randomBytes(32));
        fixture[`${record}Ephemeral`] = hex(kp.privateKey);
        return kp;
      },
      wallClock: () => {
        const t = Date.now();
        fixture[`${record}WallClockMs`] = t;
        return t;
      },
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wgp-'));
    await must('ip', ['netns', 'add', NS]);
    await must('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    relay = new Relay(
      spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', RELAY], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    await relay.ready();
    wgGo = spawn('ip', ['netns', 'exec', NS, 'wireguard-go', '-f', 'wg0'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    for (let i = 0; i < 100; i++) {
      if ((await run('ip', ['-n', NS, 'link', 'show', 'wg0'])).code === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // wg0 must be wireguard-go's TUN device, not a kernel WireGuard link (this is a userspace test).
    const link = await must('ip', ['-d', '-n', NS, 'link', 'show', 'wg0']);
    if (!/\btun\b/.test(link)) throw new Error(`wg0 is not wireguard-go's TUN device: ${link}`);
    const keyFile = join(dir, 'wg.key');
    await writeFile(keyFile, `${formatKey(wgKey.privateKey)}\n`, { mode: 0o600 });
    await must('ip', [
      'netns',
      'exec',
      NS,
      'wg',
      'set',
      'wg0',
      'private-key',
      keyFile,
      'listen-port',
      String(WG_PORT),
    ]);
    await must('ip', ['-n', NS, 'addr', 'add', '10.99.0.1/24', 'dev', 'wg0']);
    await must('ip', ['-n', NS, 'link', 'set', 'wg0', 'up']);
    Object.assign(fixture, {
      wireguardGoPrivateKey: hex(wgKey.privateKey),
      oursPrivateKey: hex(ours.privateKey),
    });
  });

  afterAll(async () => {
    relay?.child.stdin?.end();
    relay?.child.kill('SIGKILL');
    wgGo?.kill('SIGTERM');
    await run('ip', ['netns', 'pids', NS]).then(async (r) => {
      for (const p of r.stdout.split(/\s+/).filter(Boolean)) await run('kill', ['-9', p]);
    });
    await run('ip', ['netns', 'del', NS]);
    if (dir) await rm(dir, { recursive: true, force: true });
    if (process.env.WG_WRITE_FIXTURE === '1') {
      const path = join(
        import.meta.dirname,
        '../encap/wireguard/protocol/fixtures/wireguard-go-handshake.json',
      );
      await writeFile(path, `${JSON.stringify(fixture, null, 2)}\n`);
    }
  });

  async function setPeer(): Promise<void> {
    await must('ip', [
      'netns',
      'exec',
      NS,
      'wg',
      'set',
      'wg0',
      'peer',
      formatKey(ours.publicKey),
      'endpoint',
      `127.0.0.1:${relay.port}`,
      'allowed-ips',
      '10.99.0.2/32',
    ]);
  }

  it('answers wireguard-go’s initiation and exchanges transport data both ways', async () => {
    await setPeer();
    const cp = ourControlPlane('response');
    cp.setPeers([
      {
        publicKey: wgKey.publicKey,
        endpoint: { address: '127.0.0.1', port: WG_PORT },
        allowedIps: ['10.99.0.1/32'],
      },
    ]);
    const ping = run('ip', ['netns', 'exec', NS, 'ping', '-c', '1', '-W', '15', '10.99.0.2'], {
      timeoutMs: 25_000,
    });

    const init = await relay.next(1);
    expect(init.bytes.length).toBe(148);
    const r = cp.receiveHandshake(init.bytes, init.from);
    expect(r.drop).toBeUndefined(); // MAC1 ok, static key known, timestamp decrypted and fresh
    const session = sessionOf(r.actions)!;
    const response = sendOf(r.actions)!;
    expect(response.to).toEqual(init.from);
    relay.send(response.bytes, response.to);

    const data = await relay.next(4);
    const { counter, plain } = open(session, data.bytes);
    expect(counter).toBe(0n);
    expect(plain[0]! >> 4).toBe(4);
    expect([...plain.subarray(12, 20)]).toEqual([10, 99, 0, 1, 10, 99, 0, 2]);
    expect(plain[9]).toBe(1); // ICMP
    expect(plain[20]).toBe(8); // echo request
    expect(cp.noteTransportReceived(session.localIndex, data.from)).toContainEqual({
      kind: 'confirm',
      peerId: formatKey(wgKey.publicKey),
      localIndex: session.localIndex,
    });
    const totalLen = (plain[2]! << 8) | plain[3]!;
    const id = (plain[24]! << 8) | plain[25]!;
    const seq = (plain[26]! << 8) | plain[27]!;
    const reply = icmpEcho(0, [10, 99, 0, 2], [10, 99, 0, 1], id, seq, plain.subarray(28, totalLen));
    relay.send(seal(session, 0, reply), data.from);
    const result = await ping;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const shown = await must('ip', ['netns', 'exec', NS, 'wg', 'show', 'wg0', 'latest-handshakes']);
    expect(Number(shown.trim().split(/\s+/)[1])).toBeGreaterThan(0);
    Object.assign(fixture, {
      initiation: hex(init.bytes),
      response: hex(response.bytes),
      responseLocalIndex: session.localIndex,
      transportFromWireguardGo: hex(data.bytes),
      transportToWireguardGo: hex(seal(session, 0, reply)),
    });
  });

  it('initiates to wireguard-go and exchanges transport data through its response', async () => {
    // Forget the first session on wireguard-go's side so it answers as responder afresh.
    await must('ip', ['netns', 'exec', NS, 'wg', 'set', 'wg0', 'peer', formatKey(ours.publicKey), 'remove']);
    await setPeer();
    const cp = ourControlPlane('initiation');
    cp.setPeers([
      {
        publicKey: wgKey.publicKey,
        endpoint: { address: '127.0.0.1', port: WG_PORT },
        allowedIps: ['10.99.0.1/32'],
      },
    ]);
    const init = sendOf(cp.wantSession(formatKey(wgKey.publicKey)))!;
    relay.send(init.bytes, init.to);
    const response = await relay.next(2);
    expect(response.bytes.length).toBe(92);
    const r = cp.receiveHandshake(response.bytes, response.from);
    expect(r.drop).toBeUndefined();
    const session = sessionOf(r.actions)!;
    expect(r.actions.map((a) => a.kind)).toEqual(['session', 'keepalive']);
    const payload = new TextEncoder().encode('overlayd wg-protocol interop');
    const request = icmpEcho(8, [10, 99, 0, 2], [10, 99, 0, 1], 0x4242, 1, payload);
    const sealed = seal(session, 0, request);
    relay.send(sealed, response.from);
    const echo = await relay.next(4);
    const { plain } = open(session, echo.bytes);
    expect(plain[20]).toBe(0); // echo reply
    expect([...plain.subarray(12, 20)]).toEqual([10, 99, 0, 1, 10, 99, 0, 2]);
    expect(new TextDecoder().decode(plain.subarray(28, 28 + payload.length))).toBe(
      'overlayd wg-protocol interop',
    );
    Object.assign(fixture, {
      ourInitiation: hex(init.bytes),
      ourInitiationLocalIndex: session.localIndex,
      wireguardGoResponse: hex(response.bytes),
      ourTransport: hex(sealed),
      wireguardGoEchoReply: hex(echo.bytes),
    });
  });
});
