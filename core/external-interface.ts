/** The interface overlayd carries overlay traffic on, as the daemon chose it (daemon/iface.ts). */
export interface ExternalInterface {
  readonly name: string;
  /** The interface's own address (IfaceAddr). */
  readonly ifaceAddr: string;
  /** The address other nodes reach us at (ExtAddr): --public-ip or ifaceAddr. */
  readonly publicIp: string;
  readonly mtu: number;
  readonly reason: string;
}
