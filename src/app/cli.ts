#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { registerCommands } from './commands/index.js';

/** Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration. */
const program = new Command('coregate')
  .description('Multi-protocol IoT gateway: CoRE Resource Directory, CoAP workers, platform link')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end through here too, with their own exit code 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof ConfigError) {
    process.stderr.write(`coregate: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`coregate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
  // Whatever a failed start left behind (a socket, the store's checkpoint worker) must not keep the process
  // alive: an invalid setting once left it running, holding its UDP port and serving nothing.
  process.exit();
}
