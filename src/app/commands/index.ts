import type { Command } from 'commander';
import { register as devices } from './devices.js';
import { register as hub } from './hub.js';
import { register as lookup } from './lookup.js';
import { register as send } from './send.js';
import { register as start } from './start.js';
import { register as thing } from './thing.js';

/** Each command lives in its own file and adds itself here. */
const registrars: Array<(program: Command) => void> = [start, hub, thing, lookup, devices, send];

export function registerCommands(program: Command): void {
  for (const register of registrars) register(program);
}
