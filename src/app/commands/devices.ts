import type { Command } from 'commander';
import { formatTable } from './table.js';
import { withStore } from './directory-store.js';
import { configFrom, withConfigOption } from './options.js';

interface DevicesOptions {
  config?: string;
  json?: boolean;
}

/** `coregate devices`: every device the gateway knows, with its gateway id, status and resources. */
export function register(program: Command): void {
  withConfigOption(program.command('devices'))
    .description('list the devices in the gateway database: id, ep, address, status, resources')
    .option('--json', 'print JSON for scripts')
    .action(async (options: DevicesOptions) => {
      const config = configFrom(options);
      const output = await withStore(config.db, (store) => {
        const devices = store.devices
          .list()
          .sort((a, b) => a.createdAt - b.createdAt)
          .map((device) => store.info(device));
        if (options.json) return JSON.stringify(devices, null, 2) + '\n';
        return formatTable(
          ['ID', 'EP', 'ADDRESS', 'STATUS', 'SOURCE', 'RESOURCES'],
          devices.map((d) => [
            d.id,
            d.ep ?? '',
            d.address,
            d.status,
            d.source,
            d.resources.map((link) => link.href).join(' '),
          ]),
        );
      });
      process.stdout.write(output);
    });
}
