import fs from 'node:fs';
import { InvalidArgumentError, type Command as Program } from 'commander';
import { Executer } from '../../../executer/index.js';
import type { Command, CommandResult } from '../../command.js';
import { CoapClient } from '../../coap/client.js';
import { decodePayload, parseMethod } from '../../coap/content-format.js';
import { ContentFormat } from '../../coap/types.js';
import { silentLogger } from '../../log.js';
import type { Store } from '../../store/index.js';
import { withStore } from './directory-store.js';
import { configFrom, integerIn, withConfigOption } from './options.js';

interface SendOptions {
  config?: string;
  json?: boolean;
  timeout?: number;
  ct?: number;
  accept?: number;
  file?: string;
}

/** The gateway id, or an `ep` as a convenience; an unknown name is passed on for the Executer to refuse. */
export function resolveDevice(store: Store, name: string): string {
  if (store.devices.get(name)) return name;
  const matches = store.devices.list().filter((device) => store.info(device).ep === name);
  if (matches.length > 1) {
    throw new InvalidArgumentError(`ep ${name} names ${matches.length} devices (one per domain): use the gateway id`);
  }
  return matches[0]?.id ?? name;
}

/** `/a/b?x=1&y` → path `/a/b`, query `['x=1', 'y']`. */
function splitUri(pathAndQuery: string): { path: string; query: string[] | undefined } {
  const at = pathAndQuery.indexOf('?');
  if (at < 0) return { path: pathAndQuery, query: undefined };
  return {
    path: pathAndQuery.slice(0, at),
    query: pathAndQuery
      .slice(at + 1)
      .split('&')
      .filter(Boolean),
  };
}

/** Without --ct, a payload that parses as a JSON object or array goes as JSON, anything else as text. */
function guessContentFormat(text: string): number {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? ContentFormat.json : ContentFormat.text;
  } catch {
    return ContentFormat.text;
  }
}

/** For scripts (`--json`): one line, the payload as the platform link carries it (docs/design.md "Wire contract" 4). */
export function resultJson(result: CommandResult, path?: string): string {
  if (!result.ok) return JSON.stringify({ error: result.error });
  const { value, encoding } = decodePayload(result.ct ?? undefined, result.payload, path);
  return JSON.stringify({ code: result.code, ct: result.ct, payload: value, ...(encoding ? { encoding } : {}) });
}

/** For people: the code and format on one line, then the payload decoded by its Content-Format. */
export function resultText(result: CommandResult, path?: string): string {
  if (!result.ok) return `error: ${result.error.code}: ${result.error.message}\n`;
  const head = `${result.code}${result.ct === null ? '' : `  ct=${result.ct}`}  (${result.payload.length} bytes)\n`;
  if (result.payload.length === 0) return head;
  const { value, encoding } = decodePayload(result.ct ?? undefined, result.payload, path);
  const body = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return `${head}${encoding ? `(${encoding}) ` : ''}${body}\n`;
}

export function register(program: Program): void {
  withConfigOption(program.command('send'))
    .description('run one command through the Executer: a CoAP request to a device, by gateway id or ep')
    .argument('<device>', 'gateway device id (or ep)')
    .argument('<method>', 'GET, POST, PUT, DELETE, FETCH, PATCH or iPATCH')
    .argument('<path>', 'resource path, optionally with ?query')
    .argument('[payload]', 'request payload (text; JSON objects are sent as ct 50 unless --ct says otherwise)')
    .option('--json', 'print one line of JSON for scripts')
    .option(
      '--timeout <ms>',
      'deadline for the whole exchange (default: executer.defaultTimeoutMs)',
      integerIn(1, 3_600_000),
    )
    .option('--ct <n>', 'Content-Format of the payload', integerIn(0, 65535))
    .option('--accept <n>', 'Content-Format asked for', integerIn(0, 65535))
    .option('--file <file>', 'read the payload from a file')
    .action(
      async (
        device: string,
        methodName: string,
        uri: string,
        payloadText: string | undefined,
        options: SendOptions,
        command: Program,
      ) => {
        const method = parseMethod(methodName);
        if (!method) command.error(`coregate send: unknown method ${methodName}`, { exitCode: 2 });
        if (payloadText !== undefined && options.file !== undefined) {
          command.error('coregate send: give the payload as an argument or with --file, not both', { exitCode: 2 });
        }
        const payload =
          options.file !== undefined
            ? fs.readFileSync(options.file)
            : payloadText !== undefined
              ? Buffer.from(payloadText)
              : undefined;
        const ct = options.ct ?? (payloadText !== undefined ? guessContentFormat(payloadText) : undefined);
        const config = configFrom(options);
        const log = silentLogger();
        const result = await withStore(config.db, async (store) => {
          const client = new CoapClient({ log });
          const executer = new Executer({ store, log, config: config.executer, client });
          try {
            await executer.start();
            const request: Command = {
              device: resolveDevice(store, device),
              method,
              ...splitUri(uri),
              payload,
              ct,
              accept: options.accept,
              timeout: options.timeout,
            };
            return await executer.execute(request);
          } finally {
            await executer.stop();
            await client.close();
          }
        });
        const { path } = splitUri(uri);
        const out = options.json ? `${resultJson(result, path)}\n` : resultText(result, path);
        (result.ok || options.json ? process.stdout : process.stderr).write(out);
        process.exitCode = result.ok && result.code.startsWith('2.') ? 0 : 1;
      },
    );
}
