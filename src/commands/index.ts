import type { Command } from 'commander';

/** Each command lives in its own file and adds itself here. */
const registrars: Array<(program: Command) => void> = [];

export function registerCommands(program: Command): void {
  for (const register of registrars) register(program);
}
