#!/usr/bin/env node
/** Entry point: flags → daemon; signals → clean stop; exit code from the daemon. */
import { Daemon } from './daemon.js';
import { helpText, parseFlags } from './flags.js';
import { createLogger } from './logger.js';
import { packageVersion } from './version.js';

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

const log = createLogger(flags.logLevel);
log.info({ component: 'main', version: packageVersion(), node: process.version }, 'overlayd starting');
const daemon = new Daemon(flags, log);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => void daemon.stop(`received ${sig}`));
}
process.on('unhandledRejection', (err) => {
  log.error({ component: 'main', err }, 'unhandled rejection');
});
const code = await daemon.run();
log.flush();
process.exit(code);
