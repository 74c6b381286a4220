/**
 * A frame Linux's vxlan device sent, the reference the VXLAN wire is tested against. Captured with
 * an AF_PACKET socket (python3) on the far end of a veth, from a flannel.1 created as flanneld
 * creates it: `ip link add flannel.1 type vxlan id 1 local 198.18.77.1 dev <veth> dstport 8472
 * nolearning`, MAC 02:11:22:33:44:55, MTU 1450, a permanent neighbour 10.244.2.0 →
 * 0a:bb:cc:dd:ee:ff, an FDB entry for it to 198.18.77.2, a route 10.244.2.0/24 via 10.244.2.0
 * onlink; then `ping -c1 -s 16 -p 6f7665726c617964 10.244.2.7` on that node (kernel 6.18).
 */
/** Outer IPv4 + UDP of the capture: 198.18.77.1:59852 → 198.18.77.2:8472, UDP checksum 0x2684. */
export const KERNEL_OUTER = '4500005ed13900004011832dc6124d01c6124d02e9cc2118004a2684';
/** Its UDP payload: VXLAN header, inner Ethernet, ICMP echo 10.244.1.0 → 10.244.2.7. */
export const KERNEL_PAYLOAD =
  '08000000000001000abbccddeeff02112233445508004500002cf3c1400040012e210af401000af4020708000d46' +
  '5b470001e5570f6b0000000092ae080000000000';
export const SENDER_MAC = Uint8Array.from([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
export const RECEIVER_MAC = Uint8Array.from([0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
