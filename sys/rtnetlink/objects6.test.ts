import { describe, expect, it } from 'vitest';
import { parseIpv6 } from '../../core/ipv6.js';
import { encodeRequest, parseMessages } from './codec.js';
import { AF_BRIDGE, AF_INET6, NUD_PERMANENT, RTM_NEWROUTE, RTNH_F_ONLINK } from './constants.js';
import { replaceNeigh } from './objects.js';
import {
  addAddr6,
  ipv6At,
  ipv6Bytes,
  parseAddr6,
  parseNeigh6,
  parseRoute6,
  replaceFdb6,
  replaceNeigh6,
  replaceRoute6,
} from './objects6.js';

const parsed = (req: Parameters<typeof encodeRequest>[0]) => {
  const bytes = encodeRequest(req, 1);
  return parseMessages(bytes, bytes.length)[0]!;
};

describe('rtnetlink IPv6 objects', () => {
  it('writes addresses in network order (known answer: Python socket.inet_pton)', () => {
    const ip = parseIpv6('fd00:10:244:3::1')!;
    expect([...ipv6Bytes(ip)]).toEqual([253, 0, 0, 16, 2, 68, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(ipv6At(ipv6Bytes(ip), 0)).toBe(ip);
  });

  it('builds an IPv6 route the kernel reads back: family, prefix, gateway, device, onlink', () => {
    const spec = {
      dst: parseIpv6('fd00:10:244:5::')!,
      dstLen: 64,
      gateway: parseIpv6('fd00:198:18:1::5')!,
      oif: 7,
      protocol: 77,
      onlink: true,
    };
    const bytes = encodeRequest(replaceRoute6(spec), 1);
    const [msg] = parseMessages(bytes, bytes.length);
    expect(msg!.type).toBe(RTM_NEWROUTE);
    expect(msg!.body[0]).toBe(AF_INET6);
    expect(new DataView(msg!.body.buffer, msg!.body.byteOffset + 8, 4).getUint32(0, true)).toBe(
      RTNH_F_ONLINK,
    );
    expect(parseRoute6(msg!)).toEqual({ ...spec, table: 254 });
  });

  it('reads back its NDP and FDB entries with 16-byte destinations, and no IPv4 neighbour as one', () => {
    const mac = Uint8Array.from([0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44]);
    const ip = parseIpv6('fd00:10:244:3::')!;
    expect(parseNeigh6(parsed(replaceNeigh6(5, ip, mac)))).toEqual({
      family: AF_INET6,
      ifindex: 5,
      state: NUD_PERMANENT,
      dst: ip,
      lladdr: 'c6:d2:32:6f:8f:44',
    });
    const pub6 = parseIpv6('fd00:198:18::2')!;
    expect(parseNeigh6(parsed(replaceFdb6(5, mac, pub6)))).toMatchObject({ family: AF_BRIDGE, dst: pub6 });
    expect(parseNeigh6(parsed(replaceNeigh(5, 0x0af40300, mac)))).toBeUndefined();
  });

  it('reads back its /128 address', () => {
    const ip = parseIpv6('fd00:10:244:3::')!;
    expect(parseAddr6(parsed(addAddr6(5, ip, 128)))).toEqual({ index: 5, prefixLen: 128, local: ip });
  });
});
