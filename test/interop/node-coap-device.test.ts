import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, createServer, request, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { waitFor } from '../helpers/wait.js';

const VERSION = (createRequire(import.meta.url)('coap/package.json') as { version: string }).version;

/** What a node-coap device socket saw: requests from the gateway, with their source port. */
interface Seen {
  method: string;
  url: string;
  port: number;
}

/**
 * A device written with node-coap (`coap.createServer()`), nobody here wrote it: it serves `/value` (GET, PUT)
 * on one UDP socket and sends its RD requests through that same socket with `new Agent({socket})`, the
 * package's documented way to share a socket (README: `Agent` option `socket`; `server.listen(socket)`).
 */
class NodeCoapDevice {
  readonly seen: Seen[] = [];
  value = 'initial';
  private constructor(
    readonly name: string,
    private readonly socket: dgram.Socket,
    private readonly server: Server,
    private readonly agent: Agent,
  ) {}

  static async start(name: string): Promise<NodeCoapDevice> {
    const socket = dgram.createSocket('udp6');
    await new Promise<void>((resolve) => socket.bind(0, '::1', resolve));
    const server = createServer({ type: 'udp6' });
    const device = new NodeCoapDevice(name, socket, server, new Agent({ socket }));
    server.on('request', (req: IncomingMessage, res: OutgoingMessage) => device.serve(req, res));
    await new Promise<void>((resolve) => server.listen(socket, () => resolve()));
    return device;
  }

  get port(): number {
    return this.socket.address().port;
  }

  private serve(req: IncomingMessage, res: OutgoingMessage): void {
    this.seen.push({ method: req.method, url: req.url, port: req.rsinfo.port });
    if (req.url !== '/value') {
      res.code = '4.04';
      res.end();
    } else if (req.method === 'GET') {
      res.code = '2.05';
      res.setOption('Content-Format', 'text/plain');
      res.end(`${this.value}@${this.name}`);
    } else if (req.method === 'PUT') {
      this.value = req.payload.toString();
      res.code = '2.04';
      res.end();
    } else {
      res.code = '4.05';
      res.end();
    }
  }

  /** One confirmable request to the RD from this device's serving socket; resolves with the response. */
  rd(
    rdPort: number,
    method: 'POST',
    pathname: string,
    query: string,
    payload?: string,
  ): Promise<{ code: string; location: string[]; port: number }> {
    return new Promise((resolve, reject) => {
      const req = request({ hostname: '::1', port: rdPort, method, pathname, query, agent: this.agent });
      if (payload !== undefined) req.setOption('Content-Format', 'application/link-format');
      req.on('response', (res: IncomingMessage) => {
        // The raw packet: node-coap's `headers` keep only the last of repeated options such as Location-Path.
        const location = (res._packet.options ?? [])
          .filter((o) => o.name === 'Location-Path')
          .map((o) => Buffer.from(o.value).toString());
        resolve({ code: res.code, location, port: res.rsinfo.port });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  async close(): Promise<void> {
    // An Agent on a socket it was given never calls back from close() (it leaves the socket to its owner):
    // close() only stops its retransmissions here, and the socket is closed below.
    this.agent.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

describe(`node-coap ${VERSION}: a coap.createServer() device registering from its serving socket`, () => {
  let gateway: GatewayProcess;
  let first: NodeCoapDevice;
  let second: NodeCoapDevice;
  let id: string;
  let location: string;

  beforeAll(async () => {
    gateway = await GatewayProcess.start({ prefix: 'coregate-node-coap-device-' });
    first = await NodeCoapDevice.start('first');
    second = await NodeCoapDevice.start('second');
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await gateway?.stop();
  });

  it(`node-coap ${VERSION}: registers at /rd from its serving socket (2.01) and answers GET and PUT sent through the hub`, async () => {
    const created = await first.rd(gateway.rdPort, 'POST', '/rd', 'ep=node-coap-1&lt=3600', '</value>;ct=0');
    expect(created.code).toBe('2.01');
    expect(created.port).toBe(gateway.rdPort);
    expect(created.location[0]).toBe('rd');
    location = `/${created.location.join('/')}`;

    // No base=: the device's address is the source of the registration, i.e. the serving socket.
    const registered = await gateway.waitForDevice(
      'node-coap-1',
      (d) => d.status === 'online' && d.address === `[::1]:${first.port}`,
      'the registration at the serving socket',
    );
    id = registered.id;
    expect(location).toBe(`/rd/${id}`);

    const get = await gateway.send(id, { method: 'GET', path: '/value' });
    expect(get).toMatchObject({ httpStatus: 200, code: '2.05', ct: 0, payload: 'initial@first' });
    const put = await gateway.send(id, { method: 'PUT', path: '/value', payload: 'from coregate', ct: 0 });
    expect(put).toMatchObject({ httpStatus: 200, code: '2.04' });
    const after = await gateway.send(id, { method: 'GET', path: '/value' });
    expect(after).toMatchObject({ httpStatus: 200, code: '2.05', payload: 'from coregate@first' });

    const commands = first.seen.filter((s) => s.url === '/value');
    expect(commands.map((s) => s.method)).toEqual(['GET', 'PUT', 'GET']);
    // Every command came from the RD's port, the port the device registered with.
    expect(new Set(first.seen.map((s) => s.port))).toEqual(new Set([gateway.rdPort]));
  });

  it(`node-coap ${VERSION}: an update without base from a new source port moves the device there (RFC 9176 §5.3.1)`, async () => {
    expect(second.port).not.toBe(first.port);
    const updated = await second.rd(gateway.rdPort, 'POST', location, 'lt=3600');
    expect(updated.code).toBe('2.04');

    const moved = await gateway.waitForDevice(
      'node-coap-1',
      (d) => d.address === `[::1]:${second.port}`,
      'the device address to follow the update',
    );
    expect(moved.id).toBe(id);

    const firstBefore = first.seen.length;
    const get = await gateway.send(id, { method: 'GET', path: '/value' });
    expect(get).toMatchObject({ httpStatus: 200, code: '2.05', payload: 'initial@second' });
    await waitFor(() => second.seen.some((s) => s.method === 'GET' && s.url === '/value'), {
      what: 'the command at the new port',
    });
    expect(first.seen.slice(firstBefore).filter((s) => s.url === '/value')).toEqual([]);
    expect(new Set(second.seen.map((s) => s.port))).toEqual(new Set([gateway.rdPort]));
  });
});
