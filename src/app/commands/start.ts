import type { Command } from 'commander';
import { ConfigError, hubWithTlsFromEnv } from '../../config.js';
import { createLogger } from '../../log.js';
import { Gateway, StartupError } from '../gateway.js';
import { configFrom, untilStopSignal, withConfigOption } from './options.js';

/** The setting behind each component's listening address. */
const ADDRESS_SETTINGS: Record<string, string> = {
  rd: 'coap.bind / coap.port (COREGATE_COAP_BIND, COREGATE_COAP_PORT)',
  hub: 'hub.host / hub.port (COREGATE_HUB_PORT)',
};

/** One line a person can act on, naming the setting, rewritten from the system's terse codes. */
function explain(component: string, err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const setting = ADDRESS_SETTINGS[component] ?? component;
  if (e.code === 'EADDRINUSE') {
    return `${setting}: ${e.address ?? ''} port ${e.port ?? ''} is already in use; stop the other process or pick another port`;
  }
  if (e.code === 'EACCES') {
    return `${setting}: permission denied binding ${e.address ?? ''} port ${e.port ?? ''}; use a port above 1023 or run with the capability to bind it`;
  }
  if (e.code === 'EADDRNOTAVAIL') return `${setting}: ${e.address ?? ''} is not an address of this host`;
  return `${component} failed to start: ${e instanceof Error ? e.message : String(err)}`;
}

/** A start that failed for a reason outside the configuration's shape (a port in use): exit 1 with its line. */
export class StartupFailure extends Error {
  override name = 'StartupFailure';
}

export function register(program: Command): void {
  withConfigOption(program.command('start'))
    .description(
      'run the gateway: Resource Directory, workers, platform link (and an embedded hub when no platform URL is set)',
    )
    .action(async (options: { config?: string }) => {
      const loaded = configFrom(options);
      // The embedded hub honours USE_TLS / CERT_FILE / KEY_FILE as `coregate hub` does.
      const config =
        loaded.platform.url === null ? { ...loaded, hub: hubWithTlsFromEnv(loaded.hub, process.env) } : loaded;
      const log = createLogger({ level: config.log.level });
      const gateway = new Gateway(config, log);
      try {
        await gateway.start();
      } catch (err) {
        // gateway.start() stopped what had started; the CLI prints this one line and exits non-zero.
        if (err instanceof StartupError && err.cause instanceof ConfigError) throw err.cause;
        if (err instanceof StartupError) throw new StartupFailure(explain(err.component, err.cause));
        throw err;
      }
      await untilStopSignal();
      log.info('stopping');
      await gateway.stop();
      log.info('stopped');
    });
}
