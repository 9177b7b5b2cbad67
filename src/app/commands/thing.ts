import { InvalidArgumentError, type Command } from 'commander';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { createLogger } from '../../log.js';
import { Fleet, type RdTarget, type RegistrationMode } from '../../thing/index.js';
import { integerIn, untilStopSignal } from './options.js';

interface ThingCommandOptions {
  count: number;
  rd: RdTarget;
  simple?: boolean;
  register: boolean;
  host?: string;
  port: number;
  lifetime: number;
  name: string;
  interval: number;
}

/** `coap://HOST:PORT` (IPv6 hosts in brackets), default port 5683. */
export function parseRdUri(value: string): RdTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected coap://HOST[:PORT]');
  }
  if (url.protocol !== 'coap:' || url.hostname === '') throw new InvalidArgumentError('expected coap://HOST[:PORT]');
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 5683 : Number(url.port) };
}

/**
 * The RD's address as a literal (a host name resolved once), and the address the things listen on when
 * `--host` is not given: a socket sends only to its own family (an IPv4 socket sending to `::1` fails with
 * EINVAL), and registrations go out from the things' own sockets (RFC 9176 §5.3), so they must be of the
 * RD's family; loopback for a loopback RD, the wildcard otherwise.
 */
export async function reachRd(rd: RdTarget, host: string | undefined): Promise<{ rd: RdTarget; host: string }> {
  const literal = isIP(rd.host) !== 0 ? rd.host : (await lookup(rd.host)).address;
  const v6 = isIP(literal) === 6;
  const loopback = v6 ? literal === '::1' : literal.startsWith('127.');
  const matching = v6 ? (loopback ? '::1' : '::') : loopback ? '127.0.0.1' : '0.0.0.0';
  return { rd: { host: literal, port: rd.port }, host: host ?? matching };
}

function registrationMode(options: ThingCommandOptions): RegistrationMode {
  if (!options.register) return 'none';
  return options.simple ? 'simple' : 'full';
}

export function register(program: Command): void {
  program
    .command('thing')
    .description('run simulated CoAP things (sensors, LED, /slow, /big) that register with an RD')
    .option('-n, --count <n>', 'how many things, on distinct ports', integerIn(1, 20_000), 1)
    .option('--rd <uri>', 'the Resource Directory to register with', parseRdUri, parseRdUri('coap://127.0.0.1:5683'))
    .option('--simple', 'simple registration (RFC 9176 §5.1) instead of full registration')
    .option('--no-register', 'do not register: discoverable only')
    .option('--host <address>', "address the things listen on (default: loopback or wildcard of the RD's family)")
    .option('--port <port>', 'first port (thing n gets PORT+n-1); 0 picks free ports', integerIn(0, 65535), 0)
    .option('--lifetime <seconds>', 'registration lifetime lt', integerIn(1, 4_294_967_295), 90_000)
    .option('--name <prefix>', 'endpoint name prefix: PREFIX-1, PREFIX-2, ...', 'thing')
    .option('--interval <ms>', 'sensor change interval (0: still)', integerIn(0, 86_400_000), 5000)
    .action(async (options: ThingCommandOptions) => {
      const log = createLogger();
      const mode = registrationMode(options);
      const target = await reachRd(options.rd, options.host).catch((err: Error) => {
        log.error({ rd: options.rd.host, err: err.message }, 'cannot resolve the RD host');
        process.exit(1);
      });
      const fleet = new Fleet({
        log,
        count: options.count,
        namePrefix: options.name,
        host: target.host,
        basePort: options.port,
        rd: mode === 'none' ? undefined : target.rd,
        registration: mode,
        lifetime: options.lifetime,
        sensorIntervalMs: options.interval,
        onProgress: (started, total) => {
          if (total >= 50 && (started % 100 === 0 || started === total))
            process.stderr.write(`started ${started}/${total}\n`);
        },
      });
      // A few things are logged one by one; a crowd as counts, or its log would drown the terminal.
      const verbose = options.count <= 20;
      const registered = new Set<string>();
      let failureReported = false;
      for (const thing of fleet.things) {
        thing.on('registered', (location: string | null) => {
          const first = !registered.has(thing.name);
          registered.add(thing.name);
          const fields = { ep: thing.name, location, rd: `${options.rd.host}:${options.rd.port}` };
          log[verbose ? 'info' : 'debug'](fields, 'registered');
          if (!verbose && first && (registered.size % 100 === 0 || registered.size === options.count)) {
            log.info({ registered: registered.size, total: options.count }, 'registrations');
          }
        });
        thing.on('registration-failed', (err: Error) => {
          // A crowd says it once: an unreachable RD would otherwise fill the log with one line per thing.
          if (verbose || !failureReported)
            log.warn({ ep: thing.name, err: err.message }, 'registration failed; retrying');
          failureReported = true;
        });
      }
      await fleet.start();
      if (verbose) {
        for (const thing of fleet.things) {
          const { host, port } = thing.address();
          const address = `coap://${host.includes(':') ? `[${host}]` : host}:${port}`;
          log.info({ ep: thing.name, address, registration: mode }, 'thing up');
        }
      } else {
        log.info({ count: options.count, registration: mode }, 'things up');
      }
      await untilStopSignal();
      log.info('stopping: deregistering and closing');
      await fleet.stop();
    });
}
