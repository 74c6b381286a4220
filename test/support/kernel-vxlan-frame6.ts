/**
 * A frame Linux's vxlan device sent over IPv6, the reference the dual-stack VXLAN wire is tested
 * against. Captured with tcpdump on the far end of a veth, from a flannel-v6.1 created as flanneld
 * creates it: `ip link add flannel-v6.1 address 02:11:22:33:44:66 type vxlan id 1 local
 * fd00:198:18:77::1 dev <veth> dstport 8472 nolearning`, MTU 1430, address fd00:10:244:1::/128, a
 * permanent neighbour fd00:10:244:2:: → 0a:bb:cc:dd:ee:f6, an FDB entry for it to
 * fd00:198:18:77::2, a route fd00:10:244:2::/64 via fd00:10:244:2:: onlink; then
 * `ping -6 -c1 -s 16 fd00:10:244:2::7` on that node (kernel 6.18).
 */
/**
 * Outer IPv6 + UDP of the capture: [fd00:198:18:77::1]:35445 → [fd00:198:18:77::2]:8472, hop limit
 * 64, UDP checksum 0xfec1 (over IPv6 the kernel's vxlan sends one: udp6zerocsumtx is off).
 */
export const KERNEL_OUTER6 =
  '60000000005e1140fd000198001800770000000000000001fd0001980018007700000000000000028a752118005efec1';
/**
 * Its UDP payload: VXLAN header (I flag, VNI 1), inner Ethernet 0a:bb:cc:dd:ee:f6 ←
 * 02:11:22:33:44:66 EtherType 86dd, ICMPv6 echo request fd00:10:244:1:: → fd00:10:244:2::7.
 */
export const KERNEL_PAYLOAD6 =
  '08000000000001000abbccddeef602112233446686dd600d08d500183a40fd000010024400010000000000000000' +
  'fd0000100244000200000000000000078000d6bb6edc0001bc2d106b000000006dc7010000000000';
export const SENDER_MAC6 = Uint8Array.from([0x02, 0x11, 0x22, 0x33, 0x44, 0x66]);
export const RECEIVER_MAC6 = Uint8Array.from([0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xf6]);
/** The capture's sender and receiver PublicIPv6, and the ping's source port. */
export const SENDER_PUBLIC6 = 'fd00:198:18:77::1';
export const RECEIVER_PUBLIC6 = 'fd00:198:18:77::2';
export const SENDER_PORT6 = 35445;
