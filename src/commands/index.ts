import type { Command } from 'commander';
import { register as hub } from './hub.js';
import { register as thing } from './thing.js';

/** Each command lives in its own file and adds itself here. */
const registrars: Array<(program: Command) => void> = [hub, thing];

export function registerCommands(program: Command): void {
  for (const register of registrars) register(program);
}
