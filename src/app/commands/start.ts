import type { Command } from 'commander';
import { createLogger } from '../../log.js';
import { Gateway } from '../gateway.js';
import { configFrom, untilStopSignal, withConfigOption } from './options.js';

/** Errors a person can act on, rewritten from the system's terse codes. */
function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e.code === 'EADDRINUSE') {
    return `address ${e.address ?? ''}:${e.port ?? ''} is already in use: stop the other process, or pick another port (COREGATE_COAP_PORT, COREGATE_HUB_PORT or the config file)`;
  }
  if (e.code === 'EACCES') {
    return `permission denied binding ${e.address ?? ''}:${e.port ?? ''}: use a port above 1023 or run with the capability to bind it`;
  }
  return e instanceof Error ? e.message : String(err);
}

export function register(program: Command): void {
  withConfigOption(program.command('start'))
    .description(
      'run the gateway: Resource Directory, workers, platform link (and an embedded hub when no platform URL is set)',
    )
    .action(async (options: { config?: string }) => {
      const config = configFrom(options);
      const log = createLogger({ level: config.log.level });
      const gateway = new Gateway(config, log);
      try {
        await gateway.start();
      } catch (err) {
        log.fatal({ err }, explain(err));
        await gateway.stop();
        process.exitCode = 1;
        return;
      }
      await untilStopSignal();
      log.info('stopping');
      await gateway.stop();
      log.info('stopped');
    });
}
