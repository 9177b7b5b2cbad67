import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { waitFor } from '../helpers/wait.js';

const require = createRequire(import.meta.url);
const VERSION = (require('lwm2m-node-lib/package.json') as { version: string }).version;

/** Where the library says the client is registered (`register`'s result), as far as this test uses it. */
interface DeviceInformation {
  currentHost: string;
  currentPort: number;
  location: string;
  localPort: number;
  /** The library's CoAP listener (a node-coap server) on `localPort`, where it serves the gateway's requests. */
  serverInfo?: { server: { close(callback?: () => void): void } };
}
type Callback<T = void> = (error: Error | null | undefined, result?: T) => void;
/** The typed surface of `lwm2m-node-lib`'s client (lib/lwm2m-client.js), which ships no types. */
interface Lwm2mClient {
  init(config: Record<string, unknown>, callback?: () => void): void;
  registry: {
    create(objectUri: string, callback: Callback): void;
    setResource(objectUri: string, resourceId: number, value: string, callback: Callback): void;
    reset(callback: Callback): void;
  };
  register(host: string, port: number, url: string, endpointName: string, callback: Callback<DeviceInformation>): void;
  update(info: DeviceInformation, callback: Callback<DeviceInformation>): void;
  unregister(info: DeviceInformation, callback: Callback): void;
}

/** The client module itself, not the package main (which also loads the server and its MongoDB driver). */
const client = require('lwm2m-node-lib/lib/lwm2m-client') as Lwm2mClient;

/** What the library's requests to the RD got back on the wire: method, path, query and response code. */
interface Exchange {
  method: string;
  pathname: string;
  query: string;
  code: string;
  sourcePort: number;
}
const exchanges: Exchange[] = [];
/**
 * Observation only: the library keeps the response code to itself (it accepts any 2.xx), so the test listens to
 * the responses of the library's own copy of node-coap (its nested dependency) by wrapping `Agent.prototype.request`.
 */
{
  const libRequire = createRequire(require.resolve('lwm2m-node-lib/lib/lwm2m-client'));
  type Req = { on(event: 'response', listener: (res: LibResponse) => void): void };
  type LibResponse = { code: string; outSocket: { port: number } };
  const { Agent } = libRequire('coap') as {
    Agent: { prototype: { request(this: unknown, url: Record<string, unknown>): Req } };
  };
  const original = Agent.prototype.request;
  Agent.prototype.request = function (this: unknown, url: Record<string, unknown>): Req {
    const req = original.call(this, url);
    req.on('response', (res) =>
      exchanges.push({
        method: String(url.method),
        pathname: String(url.pathname),
        query: String(url.query ?? ''),
        code: res.code,
        sourcePort: res.outSocket.port,
      }),
    );
    return req;
  };
}

function call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((error, result) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result as T),
    ),
  );
}

describe(`lwm2m-node-lib ${VERSION}: its LwM2M client against coregate's /rd`, () => {
  let gateway: GatewayProcess;
  let info: DeviceInformation | undefined;
  /** Listeners the library left open: `update` starts a new one and never stops the previous one. */
  const stale: NonNullable<DeviceInformation['serverInfo']>[] = [];
  let registered = false;
  let id: string;

  beforeAll(async () => {
    gateway = await GatewayProcess.start({ prefix: 'coregate-lwm2m-node-lib-' });
    client.init({
      logLevel: 'FATAL',
      client: {
        lifetime: '3600',
        version: '1.0',
        logLevel: 'FATAL',
        observe: { period: 3000 },
        ipProtocol: 'udp4',
        serverProtocol: 'udp4',
        formats: [{ name: 'lightweightm2m/text', value: 1541 }],
        writeFormat: 'lightweightm2m/text',
      },
    });
    await call<void>((cb) => client.registry.create('/3/0', cb));
    await call<void>((cb) => client.registry.setResource('/3/0', 0, 'ACME', cb));
  });
  afterAll(async () => {
    // unregister() also stops the library's current listener; the stale ones are closed here.
    if (info && registered) await call<void>((cb) => client.unregister(info!, cb)).catch(() => undefined);
    else await new Promise<void>((resolve) => (info?.serverInfo ? info.serverInfo.server.close(resolve) : resolve()));
    for (const old of stale) await new Promise<void>((resolve) => old.server.close(resolve));
    await call<void>((cb) => client.registry.reset(cb)).catch(() => undefined);
    await gateway?.stop();
  });

  it(`lwm2m-node-lib ${VERSION}: registers at /rd (2.01, Location rd/<id>) and answers a GET of /3/0/0 sent through the hub`, async () => {
    // url '' : the library appends '/rd' itself and sends ep=..&lt=..&lwm2m=1.0&b=U with the payload </3/0>.
    info = await call<DeviceInformation>((cb) => client.register('127.0.0.1', gateway.rdPort, '', 'node-lib-1', cb));
    registered = true;
    const device = await gateway.waitForDevice(
      'node-lib-1',
      (d) => d.status === 'online' && d.address === `127.0.0.1:${info!.localPort}`,
      'the registration from the library',
    );
    id = device.id;
    await waitFor(() => exchanges.length >= 1, { what: 'the registration response' });
    expect(exchanges[0]).toMatchObject({ method: 'POST', pathname: '/rd', code: '2.01', sourcePort: info.localPort });
    expect(exchanges[0]?.query).toBe('ep=node-lib-1&lt=3600&lwm2m=1.0&b=U');
    expect(gateway.logged({ event: 'device.registered', device: id })).toHaveLength(1);
    // The library joins the Location-Path options itself, without a leading slash.
    expect(info.location).toBe(`rd/${id}`);
    expect(device.resources.map((r) => r.href)).toEqual(['/3/0']);
    // `registration` is in the hub's reply (docs/api.md), not in the helper's HubDevice type.
    expect((device as unknown as { registration: unknown }).registration).toMatchObject({
      lt: 3600,
      attrs: { lwm2m: '1.0', b: 'U' },
    });

    const get = await gateway.send(id, { method: 'GET', path: '/3/0/0' });
    // The library answers without a Content-Format option, so the hub hands the bytes over as base64.
    expect(get).toMatchObject({ httpStatus: 200, code: '2.05', ct: null, encoding: 'base64' });
    expect(Buffer.from(String(get.payload), 'base64').toString()).toBe('ACME');
  });

  it(`lwm2m-node-lib ${VERSION}: an update (sent from a fresh port, where the library then listens) moves the device and it still answers`, async () => {
    expect(info).toBeDefined();
    const before = info!.serverInfo;
    const firstPort = info!.localPort;
    // update() sends from a new Agent (new ephemeral port) and starts a new listener there.
    info = await call<DeviceInformation>((cb) => client.update(info!, cb));
    if (before && before !== info.serverInfo) stale.push(before);
    expect(info.localPort).not.toBe(firstPort);
    expect(info.location).toBe(`rd/${id}`);

    const moved = await gateway.waitForDevice(
      'node-lib-1',
      (d) => d.address === `127.0.0.1:${info!.localPort}`,
      'the device address to follow the update (no base: the source address, RFC 9176 §5.3.1)',
    );
    expect(moved.id).toBe(id);
    expect(moved.status).toBe('online');
    expect(exchanges[1]).toMatchObject({
      method: 'POST',
      pathname: `rd/${id}`,
      code: '2.04',
      sourcePort: info.localPort,
    });
    await gateway.waitForLog({ event: 'device.updated', device: id }, 'the update');

    await call<void>((cb) => client.registry.setResource('/3/0', 0, 'ACME-2', cb));
    const get = await gateway.send(id, { method: 'GET', path: '/3/0/0' });
    expect(get).toMatchObject({ httpStatus: 200, code: '2.05' });
    expect(Buffer.from(String(get.payload), 'base64').toString()).toBe('ACME-2');
  });

  it(`lwm2m-node-lib ${VERSION}: unregister (DELETE rd/<id>) removes the device; a send then answers 404 unknown_device`, async () => {
    expect(info).toBeDefined();
    await call<void>((cb) => client.unregister(info!, cb));
    registered = false;
    await waitFor(
      async () => {
        const device = await gateway.device('node-lib-1');
        return !device || !device.registered || device.status === 'offline';
      },
      { what: 'the hub to show the device removed', timeoutMs: 20_000, intervalMs: 100 },
    );
    await gateway.waitForLog({ event: 'device.removed', device: id }, 'the deregistration');
    expect(exchanges[2]).toMatchObject({ method: 'DELETE', pathname: `rd/${id}`, code: '2.02' });
    const gone = await gateway.send(id, { method: 'GET', path: '/3/0/0' });
    expect(gone.httpStatus).toBe(404);
    expect(gone.error?.code).toBe('unknown_device');
  });
});
