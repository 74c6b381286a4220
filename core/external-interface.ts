/** The interface overlayd carries overlay traffic on, as the daemon chose it (daemon/iface.ts). */
export interface ExternalInterface {
  readonly name: string;
  /** The interface's own address (IfaceAddr). */
  readonly ifaceAddr: string;
  /** The address other nodes reach us at (ExtAddr): --public-ip or ifaceAddr. */
  readonly publicIp: string;
  /** Dual-stack only: the interface's IPv6 address (IfaceV6Addr). */
  readonly ifaceV6Addr?: string;
  /** Dual-stack only: where other nodes reach us over IPv6 (ExtV6Addr): --public-ipv6 or ifaceV6Addr. */
  readonly publicIpv6?: string;
  readonly mtu: number;
  readonly reason: string;
}
