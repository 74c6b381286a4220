/** Structured JSON logs (pino) to stdout; every module logs through a child with a `component` field. */
import pino, { type Logger } from 'pino';

export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination(1),
): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
