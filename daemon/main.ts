#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * Entry point: flags → daemon; signals → clean stop; exit code from the daemon. `overlayd status`
 * and `overlayd diagnose` dispatch to the operator tools (ops/) instead.
 * Signal handlers go in before the daemon's modules load (a dynamic import), so a SIGTERM during
 * start-up is a clean stop too, not a kill.
 */
import { helpText, parseFlags } from './flags.js';
import { packageVersion } from './version.js';

let stopRequested: string | undefined;
let requestStop = (reason: string): void => {
  stopRequested ??= reason;
};
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => requestStop(`received ${sig}`));

const sub = process.argv[2];
if (sub === 'status' || sub === 'diagnose') {
  // Operator tools: Ctrl-C ends them at once; they share the daemon's flags but not its lifecycle.
  requestStop = () => process.exit(130);
  const { runOps } = await import('../ops/cli.js');
  process.exit(await runOps(sub, process.argv.slice(3), process.env));
}

const parsed = parseFlags(process.argv.slice(2), process.env);
if (!parsed.ok) {
  process.stderr.write(`overlayd: ${parsed.error}\n`);
  process.exit(2);
}
const flags = parsed.flags;
if (flags.help) {
  process.stdout.write(helpText(packageVersion()));
  process.exit(0);
}
if (flags.version) {
  process.stdout.write(`${packageVersion()}\n`);
  process.exit(0);
}
if (stopRequested) process.exit(0);

const [{ Daemon }, { createLogger }] = await Promise.all([import('./daemon.js'), import('./logger.js')]);
const log = createLogger(flags.logLevel);
log.info({ component: 'main', version: packageVersion(), node: process.version }, 'overlayd starting');
const daemon = new Daemon(flags, log);
requestStop = (reason) => void daemon.stop(reason);
if (stopRequested) void daemon.stop(stopRequested);
process.on('unhandledRejection', (err) => {
  log.error({ component: 'main', err }, 'unhandled rejection');
});
const code = await daemon.run();
log.flush();
process.exit(code);
