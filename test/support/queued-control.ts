/**
 * The WireGuard control plane the data-plane tests stand in for the real one: it hands out at the
 * next tick the actions (sessions, keepalives) the test queues and otherwise asks for nothing. A
 * test that needs to see what the data plane tells its control plane overrides those calls and
 * records them (encap/udp/wg-engines.test.ts, wg6-engines.test.ts, wg-keepalive.test.ts).
 */
import type { ControlAction, ControlPort, Endpoint } from '../../encap/udp/wg-dataplane.js';

export class QueuedControl implements ControlPort {
  queued: ControlAction[] = [];
  setPeers(
    _peers: readonly {
      publicKey: Uint8Array;
      endpoint: Endpoint | undefined;
      allowedIps: readonly string[];
    }[],
  ): readonly ControlAction[] {
    return [];
  }
  receiveHandshake(_bytes: Uint8Array, _from: Endpoint): { actions: readonly ControlAction[] } {
    return { actions: [] };
  }
  tick(): readonly ControlAction[] {
    return this.queued.splice(0);
  }
  noteTransportSent(_peer: string, _count: number, _keepalive: boolean): readonly ControlAction[] {
    return [];
  }
  noteTransportReceived(_index: number, _from: Endpoint, _keepalive: boolean): readonly ControlAction[] {
    return [];
  }
  wantSession(_peer: string): readonly ControlAction[] {
    return [];
  }
}
