import pino from 'pino';

/** A logger for tests: silent unless OVERLAYD_TEST_LOG is set (then debug to stderr). */
export function testLogger(name = 'test'): pino.Logger {
  return pino({ name, level: process.env['OVERLAYD_TEST_LOG'] ? 'debug' : 'silent' }, pino.destination(2));
}
