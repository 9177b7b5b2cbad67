import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { CoapServer } from '../../src/coap/server.js';

/**
 * Benchmarked servers run in a child process of their own, so the RSS measured is theirs and the
 * load generator does not share their event loop. Protocol over IPC: the child sends `{ port }`
 * when it listens; `usage` asks for CPU time and the peak RSS since the last `usage`; `stop` ends it.
 */

type ChildMessage = { port: number } | Usage;

/** Peak RSS (bytes) since the previous sample, and CPU time (ms, user + system) the child used so far. */
export interface Usage {
  peakRss: number;
  cpuMs: number;
  /** V8 heap in use and reserved, and memory outside it (Buffers), at the sample, in bytes. */
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface ServerProcess {
  port: number;
  /** RSS is sampled every 50 ms; each call starts a new peak. */
  usage(): Promise<Usage>;
  stop(): Promise<void>;
}

export async function startServerProcess(script: string, args: string[] = []): Promise<ServerProcess> {
  const child: ChildProcess = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: ChildMessage[] = [];
  const waiting: Array<(message: ChildMessage | undefined) => void> = [];
  child.on('message', (message: ChildMessage) =>
    waiting.length > 0 ? waiting.shift()!(message) : inbox.push(message),
  );
  child.on('exit', () => waiting.splice(0).forEach((resolve) => resolve(undefined)));
  const next = async (): Promise<ChildMessage> => {
    const message = inbox.shift() ?? (child.exitCode === null ? await new Promise((r) => waiting.push(r)) : undefined);
    if (message === undefined) throw new Error(`${script} exited early`);
    return message;
  };
  const ready = await next();
  if (!('port' in ready)) throw new Error(`${script} did not report its port`);
  return {
    port: ready.port,
    async usage() {
      child.send('usage');
      const reply = await next();
      if (!('cpuMs' in reply)) throw new Error(`${script} answered no usage`);
      return reply;
    },
    async stop() {
      const exited = once(child, 'exit');
      child.send('stop');
      await exited;
    },
  };
}

/** The child's side: start the server, report the port, sample RSS, stop on request. */
export async function serveInChild(start: () => Promise<{ port: number; stop: () => Promise<void> }>): Promise<void> {
  const server = await start();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  // A parent that dies without `stop` must not leave the server running.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message) => {
    if (message === 'usage') {
      const { user, system } = process.cpuUsage();
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      const usage: Usage = {
        peakRss: Math.max(peak, rss),
        cpuMs: (user + system) / 1000,
        heapUsed,
        heapTotal,
        external,
      };
      process.send?.(usage);
      peak = process.memoryUsage.rss();
    } else if (message === 'stop') {
      clearInterval(sampler);
      void server.stop().then(() => process.disconnect());
    }
  });
  process.send?.({ port: server.port });
}

/** What an endpoint lookup of one registration answers, so the ceiling's replies are the RD's size. */
const LOOKUP_SIZED_BODY = Buffer.from(
  '<coap://127.0.0.1:40000>;ep="node-1234";base="coap://127.0.0.1:40000";rt="core.rd-ep"',
);

/**
 * The ceiling: the same CoapServer (dual-stack, as the RD) with a handler that only answers:
 * 2.01 with a Location-Path for POST (as a registration), a fixed lookup-sized body for anything else.
 */
async function startEcho(): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new CoapServer({
    log: silentLogger(),
    bind: '::',
    port: 0,
    handler: (request) =>
      request.method === 'POST'
        ? { code: '2.01', locationPath: ['rd', 'x1'] }
        : { code: '2.05', payload: LOOKUP_SIZED_BODY, contentFormat: 40 },
  });
  const { port } = await server.listen();
  return { port, stop: () => server.close() };
}

export const echoServerScript = fileURLToPath(import.meta.url);

if (process.argv[1] === echoServerScript && process.send !== undefined) await serveInChild(startEcho);
