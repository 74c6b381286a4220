#!/usr/bin/env node
/**
 * The C forwarder's loop (bench/c-forwarder/forwarder.c) in JS, through overlayd's own native
 * calls: poll the TUN and the UDP socket, move one packet per read/send or receive/write, no
 * checks, no lookup, one peer. It is the "js-forwarder" bench row: the least a JS-driven
 * datapath can do per packet, so the benches show what resuming JS costs on a round trip apart
 * from what overlayd's engines add. Not part of overlayd.
 *
 *   node js-forwarder.js TUN-NAME BIND-IP PORT PEER-IP      (prints "ready" once open)
 */
import { parseIpv4 } from '../core/ipv4.js';
import { nativeSys } from '../sys/native.js';

const [name, bindIp, portArg, peerArg] = process.argv.slice(2);
const local = parseIpv4(bindIp ?? '');
const peer = parseIpv4(peerArg ?? '');
const port = Number(portArg);
if (!name || local === undefined || peer === undefined || !Number.isInteger(port)) {
  process.stderr.write('usage: js-forwarder TUN-NAME BIND-IP PORT PEER-IP\n');
  process.exit(2);
}
const sys = nativeSys();
const [tun] = sys.tunOpen(name, false);
const udp = sys.udpOpen(local, port, 0, 0);
process.stdout.write('ready\n');

const CAP = 65535;
const slab = new Uint8Array(new SharedArrayBuffer(2 * CAP));
const tunOffs = Int32Array.of(0);
const udpOffs = Int32Array.of(CAP);
const lens = new Int32Array(1);
const addrs = Uint32Array.of(peer);
const ports = Int32Array.of(port);
const gso = new Int32Array(1);
const fromAddrs = new Uint32Array(1);
const fromPorts = new Int32Array(1);
const errs = new Int32Array(2);
for (;;) {
  const ready = sys.waitReadable(tun, udp, 1000);
  if (ready & 1 && sys.readBatch(tun, slab, tunOffs, lens, 1, CAP, -1) === 1)
    sys.sendBatch(udp, slab, tunOffs, lens, 0, 1, addrs, ports, gso);
  if (ready & 2 && sys.recvBatch(udp, slab, udpOffs, lens, 1, CAP, fromAddrs, fromPorts, gso, -1) === 1)
    sys.writeBatch(tun, slab, udpOffs, lens, 1, errs);
}
