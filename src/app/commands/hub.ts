import type { Command } from 'commander';
import { BrokerHub, Hub } from '../../../connector/hub/index.js';
import { ConfigError, hubWithTlsFromEnv, type HubConfig } from '../../config.js';
import { createLogger } from '../../log.js';
import { createRegistry } from '../../metrics/index.js';
import { configFrom, integerIn, untilStopSignal, withConfigOption } from './options.js';

interface HubOptions {
  config?: string;
  port?: number;
  host?: string;
  broker?: string;
}

type Env = Record<string, string | undefined>;

function portOf(value: string, source: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`${source}: not a port number: ${value}`);
  return port;
}

/**
 * The standalone hub's settings: the file's `hub` section, then PiCloud's environment names
 * (`PORT`, `USE_TLS` with `CERT_FILE` and `KEY_FILE`; `API_KEY` is applied by loadConfig), then the flags.
 */
export function standaloneHubConfig(hub: HubConfig, env: Env, options: HubOptions): HubConfig {
  const result = { ...hubWithTlsFromEnv(hub, env) };
  if (env.PORT) result.port = portOf(env.PORT, 'PORT');
  if (options.port !== undefined) result.port = options.port;
  if (options.host !== undefined) result.host = options.host;
  if (options.broker !== undefined) {
    if (!/^mqtts?:\/\//.test(options.broker))
      throw new ConfigError(`--broker: not an mqtt:// or mqtts:// URL: ${options.broker}`);
    result.broker = { ...hub.broker, url: options.broker };
  }
  return result;
}

export function register(program: Command): void {
  withConfigOption(program.command('hub'))
    .description('run the platform hub: gateways connect to it; HTTP API, pub/sub, webhooks')
    .option('--port <port>', 'HTTP/WebSocket port (default: hub.port, env PORT)', integerIn(0, 65535))
    .option('--host <host>', 'address to listen on (default: hub.host)')
    .option(
      '--broker <url>',
      'mqtt:// or mqtts:// broker: a stateless hub that learns gateways and devices from it (default: hub.broker.url)',
    )
    .action(async (options: HubOptions) => {
      const config = configFrom(options);
      const log = createLogger({ level: process.env.LOG_LEVEL ?? config.log.level });
      const hubConfig = standaloneHubConfig(config.hub, process.env, options);
      const deps = {
        log,
        config: hubConfig,
        metrics: createRegistry(),
        metricsNeedApiKey: config.metrics.requireApiKey,
      };
      // Several broker-mode hubs run side by side on one broker (docs/scale-out.md); the default hub owns its gateways.
      const hub = hubConfig.broker.url !== null ? new BrokerHub(deps) : new Hub(deps);
      await hub.start();
      await untilStopSignal();
      await hub.stop();
      log.info('hub stopped');
    });
}
