import type { Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { Agent, type IncomingMessage } from 'coap';
import type { Logger } from '../log.js';

export type RegistrationMode = 'full' | 'simple' | 'none';

export interface RdTarget {
  host: string;
  port: number;
}

export interface RegistrationOptions {
  /** The thing's own server socket: RFC 9176 §5.3 takes the registrant's source address as its base. */
  socket: Socket;
  rd: RdTarget;
  mode: Exclude<RegistrationMode, 'none'>;
  ep: string;
  lifetime: number;
  /** The thing's `/.well-known/core` document, sent with a full registration. */
  links: () => string;
  /** Further registration parameters (`sleepy`, `b=UQ`, ...). */
  extraQuery?: string[];
  log: Logger;
  requestTimeoutMs?: number;
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** A clean shutdown waits this long for the RD to confirm the removal, then goes anyway. */
const DEREGISTER_TIMEOUT_MS = 1000;

/**
 * Keeps a thing registered with a Resource Directory: registers, updates before `lt` runs out
 * (RFC 9176 §5.3.1), and registers afresh when the RD has forgotten it (4.04 on update).
 * Events: `registered` (location or null for simple registration), `failed` (Error).
 */
export class RdRegistration extends EventEmitter {
  private readonly agent: Agent;
  private location: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  /** Aborts the exchange in flight, so nothing is retransmitted from a socket about to close. */
  private abortInFlight: (() => void) | undefined;

  constructor(private readonly options: RegistrationOptions) {
    super();
    // The agent shares the server's socket but must only see replies: a shared agent answers
    // incoming requests and pings with Reset, which would race the thing's own server.
    this.agent = new Agent({ socket: responsesOnly(options.socket) });
  }

  /** The registration resource the RD assigned (full registration only). */
  get registeredAt(): string | undefined {
    return this.location;
  }

  start(): void {
    void this.register();
  }

  /** Updates the registration now (a sleepy device waking: its update is its sign of life, RFC 9176 §5.3.1). */
  updateNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    clearTimeout(this.timer);
    return this.update();
  }

  /** Stops updating; with `deregister`, removes the registration (RFC 9176 §5.3.2) as a clean shutdown does. */
  async stop(deregister: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abortInFlight?.();
    if (deregister && this.location !== undefined) {
      await this.send('DELETE', this.location, [], undefined, DEREGISTER_TIMEOUT_MS).catch(() => undefined);
    }
    this.location = undefined;
  }

  private async register(): Promise<void> {
    const { mode, ep, lifetime } = this.options;
    const query = [`ep=${ep}`, `lt=${lifetime}`, ...(this.options.extraQuery ?? [])];
    try {
      if (mode === 'full') {
        const reply = await this.send('POST', '/rd', query, this.options.links());
        if (reply.code !== '2.01') throw new Error(`registration answered ${reply.code}`);
        this.location = `/${reply.locationPath.join('/')}`;
      } else {
        // RFC 9176 §5.1: empty POST; the RD fetches /.well-known/core from the source address itself.
        const reply = await this.send('POST', '/.well-known/rd', query);
        if (!reply.code.startsWith('2.')) throw new Error(`simple registration answered ${reply.code}`);
      }
      this.succeeded();
      this.emit('registered', this.location ?? null);
      this.options.log.debug({ ep, location: this.location, mode }, 'registered');
    } catch (err) {
      this.failed(err, () => this.register());
    }
  }

  private async update(): Promise<void> {
    if (this.location === undefined) return this.register();
    try {
      const reply = await this.send('POST', this.location, []);
      if (reply.code === '4.04') {
        // RFC 9176 §5.3.1: the registration is gone (expired or removed); register anew.
        this.location = undefined;
        return await this.register();
      }
      if (!reply.code.startsWith('2.')) throw new Error(`update answered ${reply.code}`);
      this.succeeded();
      this.emit('updated', this.location);
    } catch (err) {
      this.failed(err, () => this.update());
    }
  }

  private succeeded(): void {
    this.failures = 0;
    // Refresh at half the lifetime: room for retransmissions and a retry before `lt` runs out.
    const next = this.options.mode === 'full' ? () => this.update() : () => this.register();
    this.schedule(next, (this.options.lifetime * 1000) / 2);
  }

  private failed(err: unknown, retry: () => Promise<void>): void {
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    this.options.log.debug({ ep: this.options.ep, err: String(err), retryInMs: delay }, 'registration failed');
    this.emit('failed', err instanceof Error ? err : new Error(String(err)));
    this.schedule(retry, delay);
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void fn(), ms);
  }

  private send(
    method: 'POST' | 'DELETE',
    pathname: string,
    query: string[],
    linkFormat?: string,
    timeoutMs = this.options.requestTimeoutMs ?? 5000,
  ): Promise<{ code: string; locationPath: string[] }> {
    const { rd } = this.options;
    return new Promise((resolve, reject) => {
      const req = this.agent.request({
        host: rd.host,
        port: rd.port,
        method,
        pathname,
        query: query.join('&'),
        ...(linkFormat !== undefined ? { options: { 'Content-Format': 'application/link-format' } } : {}),
      });
      const abort = (reason: string): void => {
        clearTimeout(timer);
        this.abortInFlight = undefined;
        this.agent.abort(req);
        reject(new Error(reason));
      };
      // The library only gives up after EXCHANGE_LIFETIME (247 s); a device retries much sooner.
      const timer = setTimeout(() => abort(`no answer from the RD within ${timeoutMs} ms`), timeoutMs);
      this.abortInFlight = () => abort('registration stopped');
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        this.abortInFlight = undefined;
        const locationPath = (res._packet.options ?? [])
          .filter((o) => o.name === 'Location-Path')
          .map((o) => (Buffer.isBuffer(o.value) ? o.value.toString('utf8') : String(o.value)));
        resolve({ code: res.code, locationPath });
      });
      req.on('error', (err: Error) => {
        clearTimeout(timer);
        this.abortInFlight = undefined;
        reject(err);
      });
      req.end(linkFormat);
    });
  }
}

/** A view of a dgram socket that passes on only CoAP responses, empty ACKs and Resets (RFC 7252 §3). */
function responsesOnly(socket: Socket): Socket {
  const view = new EventEmitter() as EventEmitter & { type: string; send: Socket['send']; address: Socket['address'] };
  view.type = socket.address().family === 'IPv6' ? 'udp6' : 'udp4';
  view.send = socket.send.bind(socket) as Socket['send'];
  view.address = socket.address.bind(socket);
  socket.on('message', (msg: Buffer, rinfo) => {
    if (msg.length < 4) return;
    const type = (msg[0]! >> 4) & 0x3;
    const code = msg[1]!;
    const isRequestOrPing = code >> 5 === 0 && (code !== 0 || type < 2);
    if (!isRequestOrPing) view.emit('message', msg, rinfo);
  });
  return view as unknown as Socket;
}
