import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';

/** `-c, --config <file>`: every command that reads the gateway's configuration takes it. */
export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'configuration file (default: ./gateway.config.json if present)');
}

export function configFrom(options: { config?: string }): Config {
  return loadConfig(options.config);
}
