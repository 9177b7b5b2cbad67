import type { Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { createServer, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { formatLinkFormat } from '../coap/link-format.js';
import type { Logger } from '../log.js';
import type { Link } from '../coap/link-format.js';
import { finalBlock1, reassembleBlock1 } from './block1.js';
import { MAX_TRANSMIT_WAIT_MS, watchConfirmableNotifications } from './confirmable-notifications.js';
import {
  answerPings,
  contentFormatOf,
  dropSendsAfterClose,
  isObserveWriteStream,
  optionStrings,
  type Packet,
} from './server-adapters.js';
import { RdRegistration, type RdTarget, type RegistrationMode } from './registration.js';
import { ResourceSet, WELL_KNOWN_CORE, type ThingReply } from './resources.js';

export interface ThingOptions {
  log: Logger;
  /** Endpoint name (`ep`) used when registering. */
  name: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  rd?: RdTarget;
  /** Default `full` when `rd` is given, else `none` (discoverable only). */
  registration?: RegistrationMode;
  /** Registration lifetime `lt` in seconds. */
  lifetime?: number;
  /** How often the sensors drift (and notify their observers); 0 keeps them still. */
  sensorIntervalMs?: number;
  /**
   * The interface (address) the thing sends multicast through, e.g. a simple registration to a group;
   * with `group` it also joins that group (RFC 7252 §12.8 All-CoAP-Nodes) so multicast discovery reaches
   * it, which needs a wildcard `host` (`0.0.0.0`): a socket bound to one address gets no group traffic.
   */
  multicast?: { interface: string; group?: string };
  /**
   * How long a confirmable notification may wait for its ACK before the observer is dropped (RFC 7641 §4.5);
   * default MAX_TRANSMIT_WAIT (93 s, RFC 7252 §4.8.2).
   */
  confirmableTimeoutMs?: number;
}

/** One request as the thing served it: tests read the order and overlap of exchanges from it. */
export interface RequestLogEntry {
  method: string;
  path: string;
  query: string[];
  source: string;
  payloadBytes: number;
  receivedAt: number;
  respondedAt?: number;
  code?: string;
}

interface Observer {
  path: string;
  stream: OutgoingMessage;
}

const REQUEST_LOG_MAX = 1000;
const DEFAULT_MAX_AGE = 60;
const now = (): number => performance.timeOrigin + performance.now();

/**
 * A simulated CoAP device on its own UDP port, served by the `coap` package (an implementation
 * independent of the gateway's client). Events: `request` and `response` (RequestLogEntry),
 * `registered`, `updated`, `registration-failed` (from the RD exchange).
 */
export class Thing extends EventEmitter {
  readonly name: string;
  readonly resources: ResourceSet;
  readonly stats = { requests: 0, pings: 0, notifications: 0, observersDropped: 0 };
  readonly requestLog: RequestLogEntry[] = [];
  private readonly host: string;
  private readonly mode: RegistrationMode;
  private port: number;
  private server: Server | undefined;
  private generation = new AbortController();
  private registration: RdRegistration | undefined;
  private sensorTimer: NodeJS.Timeout | undefined;
  private unplug: () => void = () => {};
  private unwatch: () => void = () => {};
  private readonly observers = new Map<string, Observer>();

  constructor(private readonly options: ThingOptions) {
    super();
    this.name = options.name;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.mode = options.registration ?? (options.rd ? 'full' : 'none');
    if (this.mode !== 'none' && !options.rd) throw new Error(`${this.mode} registration needs an RD address`);
    this.resources = new ResourceSet((path) => this.notify(path));
  }

  async start(): Promise<void> {
    await this.listen();
    const interval = this.options.sensorIntervalMs ?? 5000;
    if (interval > 0) {
      this.sensorTimer = setInterval(() => {
        this.resources.temperature.drift();
        this.resources.humidity.drift();
      }, interval);
    }
  }

  /** Shuts down cleanly: deregisters from the RD (RFC 9176 §5.3.2), then closes the socket. */
  async stop(): Promise<void> {
    clearInterval(this.sensorTimer);
    this.sensorTimer = undefined;
    await this.registration?.stop(true);
    this.shutdown();
  }

  /** Stops answering anything, as a device that lost power; the port stays this thing's. */
  async goSilent(): Promise<void> {
    await this.registration?.stop(false);
    this.shutdown();
  }

  /** Boots again on the same port: a new server (new message ids, no observers) that registers anew. */
  async comeBack(): Promise<void> {
    if (this.server) return;
    await this.listen();
  }

  get silent(): boolean {
    return this.server === undefined;
  }

  address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** The registration resource the RD assigned, once registered (full registration). */
  get location(): string | undefined {
    return this.registration?.registeredAt;
  }

  get observerCount(): number {
    return this.observers.size;
  }

  links(): Link[] {
    return this.resources.links();
  }

  setTemperature(value: number): void {
    this.resources.temperature.set(value);
  }

  setHumidity(value: number): void {
    this.resources.humidity.set(value);
  }

  private async listen(): Promise<void> {
    const { multicast } = this.options;
    const server = createServer({
      type: isIPv6(this.host) ? 'udp6' : 'udp4',
      // The `coap` package sets SO_REUSEADDR by default, and Linux then hands a port-0 bind a port another
      // thing already holds: two things on one address, one of them unreachable. Only group members share.
      reuseAddr: multicast?.group !== undefined,
      ...(multicast?.group ? { multicastAddress: multicast.group, multicastInterface: multicast.interface } : {}),
    });
    server.on('request', (req: IncomingMessage, res: OutgoingMessage) => this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err: Error) => this.options.log.warn({ thing: this.name, err: err.message }, 'socket error'));
    const socket = server._sock as Socket;
    if (multicast) socket.setMulticastInterface(multicast.interface);
    answerPings(server, socket, () => this.stats.pings++);
    reassembleBlock1(server, socket);
    this.unplug = dropSendsAfterClose(socket);
    this.unwatch = watchConfirmableNotifications(
      server,
      socket,
      this.options.confirmableTimeoutMs ?? MAX_TRANSMIT_WAIT_MS,
      (observer) => this.dropObserver(observer),
    );
    this.port = socket.address().port;
    this.server = server;
    this.generation = new AbortController();
    if (this.mode !== 'none' && this.options.rd) {
      this.registration = new RdRegistration({
        socket,
        rd: this.options.rd,
        mode: this.mode,
        ep: this.name,
        lifetime: this.options.lifetime ?? 90_000,
        links: () => formatLinkFormat(this.links()),
        log: this.options.log,
      });
      this.registration.on('registered', (location: string | null) => this.emit('registered', location));
      this.registration.on('updated', (location: string) => this.emit('updated', location));
      this.registration.on('failed', (err: Error) => this.emit('registration-failed', err));
      this.registration.start();
    }
  }

  // Order matters: the `coap` server throws ERR_SOCKET_DGRAM_NOT_RUNNING from pending sends after close.
  private shutdown(): void {
    this.generation.abort(new Error('thing stopped'));
    for (const { stream } of this.observers.values()) stream.end();
    this.observers.clear();
    this.registration = undefined;
    this.unplug();
    this.unwatch();
    this.server?.close();
    this.server = undefined;
  }

  private serve(req: IncomingMessage, res: OutgoingMessage): void {
    const packet = req._packet;
    const path = `/${optionStrings(packet, 'Uri-Path').join('/')}`;
    const query = optionStrings(packet, 'Uri-Query');
    const entry: RequestLogEntry = {
      method: req.method,
      path,
      query,
      source: `${req.rsinfo.address}:${req.rsinfo.port}`,
      payloadBytes: req.payload.length,
      receivedAt: now(),
    };
    this.stats.requests++;
    this.requestLog.push(entry);
    if (this.requestLog.length > REQUEST_LOG_MAX) this.requestLog.shift();
    this.emit('request', entry);

    const observerKey = `${entry.source}#${(packet.token ?? Buffer.alloc(0)).toString('hex')}`;
    // RFC 7641 §3.6: a GET with the same token (Observe=1 or none) ends the observation.
    this.observers.get(observerKey)?.stream.end();
    this.observers.delete(observerKey);

    const resource = path === WELL_KNOWN_CORE ? this.resources.wellKnownCore : this.resources.find(path);
    if (!resource) return this.respond(res, entry, { code: '4.04' }, packet);

    const observing = req.headers.Observe === 0 && resource.observable && req.method === 'GET';
    if (observing) {
      this.observers.set(observerKey, { path, stream: res });
      res.on('finish', () => {
        if (this.observers.get(observerKey)?.stream === res) this.observers.delete(observerKey);
      });
    }
    const signal = this.generation.signal;
    const contentFormat = contentFormatOf(packet);
    Promise.resolve()
      .then(() => resource.handle({ method: req.method, query, payload: req.payload, contentFormat, signal }))
      .then(
        (reply) => {
          if (!signal.aborted) this.respond(res, entry, reply, packet, observing);
        },
        (err: unknown) => {
          if (signal.aborted) return;
          this.options.log.error({ thing: this.name, path, err: String(err) }, 'resource failed');
          this.respond(res, entry, { code: '5.00' }, packet, false);
        },
      );
  }

  private respond(
    res: OutgoingMessage,
    entry: RequestLogEntry,
    reply: ThingReply,
    packet: Packet,
    observing = false,
  ): void {
    res.code = reply.code;
    res.statusCode = reply.code;
    if (reply.contentFormat !== undefined) res.setOption('Content-Format', reply.contentFormat);
    const maxAge = reply.maxAge ?? (observing ? this.maxAge() : undefined);
    if (maxAge !== undefined) res.setOption('Max-Age', maxAge);
    // RFC 7959 §2.3: the response to the final block of a Block1 transfer carries the Block1 option too.
    const block1 = finalBlock1(packet);
    if (block1) res.setOption('Block1', block1);
    entry.respondedAt = now();
    entry.code = reply.code;
    const payload = typeof reply.payload === 'string' ? Buffer.from(reply.payload) : reply.payload;
    if (observing) {
      res.write(payload ?? Buffer.alloc(0));
    } else if (isObserveWriteStream(res)) {
      // RFC 7641 §4.1: a resource that cannot be observed answers without an Observe option;
      // the library's stream would add one on write, so send the plain response directly.
      res._doSend(payload);
    } else {
      res.end(payload);
    }
    this.emit('response', entry);
  }

  /** RFC 7641 §4.5: the client rejected or did not acknowledge a confirmable notification. */
  private dropObserver(key: string): void {
    const observer = this.observers.get(key);
    if (observer === undefined) return;
    this.observers.delete(key);
    observer.stream.end();
    this.stats.observersDropped++;
    this.options.log.debug(
      { thing: this.name, observer: key },
      'observer dropped: confirmable notification not acknowledged',
    );
  }

  private notify(path: string): void {
    const reply = path === '/sensors/temp' ? this.resources.temperatureReply() : this.resources.humidityReply();
    const payload = Buffer.from(reply.payload ?? '');
    for (const observer of this.observers.values()) {
      if (observer.path !== path) continue;
      observer.stream.setOption('Max-Age', this.maxAge());
      observer.stream.write(payload);
      this.stats.notifications++;
    }
  }

  /** RFC 7641 §4.3.1: fresh for two sensor periods, so a silent stream is noticed soon after. */
  private maxAge(): number {
    const interval = this.options.sensorIntervalMs ?? 5000;
    return interval > 0 ? Math.max(1, Math.ceil((2 * interval) / 1000)) : DEFAULT_MAX_AGE;
  }
}
