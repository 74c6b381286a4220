/** systemd readiness: READY=1 (and STOPPING=1) to $NOTIFY_SOCKET when systemd gave us one. */
import { nativeSys } from './native.js';

/** Returns false when there is no $NOTIFY_SOCKET (not run by systemd); throws when sending fails. */
export function sdNotify(message: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const socket = env['NOTIFY_SOCKET'];
  if (!socket) return false;
  nativeSys().sdNotify(socket, message);
  return true;
}
