import { describe, expect, it } from 'vitest';
import { parseIpv6 } from '../../core/ipv6.js';
import { encodeRequest, parseMessages } from './codec.js';
import { AF_INET6, RTM_NEWROUTE, RTNH_F_ONLINK } from './constants.js';
import { ipv6At, ipv6Bytes, parseRoute6, replaceRoute6 } from './objects6.js';

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
});
