import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../../config.js';

/** `-c, --config <file>`: every command that reads the gateway's configuration takes it. */
export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'configuration file (default: ./gateway.config.json if present)');
}

export function configFrom(options: { config?: string }): Config {
  return loadConfig(options.config);
}

/** A commander argument parser for integers in [min, max]; anything else is a usage error (exit 2). */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

/** Resolves on the first SIGINT or SIGTERM: long-running commands then stop their components in order. */
export function untilStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
