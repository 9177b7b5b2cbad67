import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES } from '../../connector/protocol/index.js';
import { recordingLogger, type LogRecord } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGateway, api, authHeaders, device, startHub, type RunningHub } from './harness.js';

let hub: RunningHub | undefined;
let gateway: FakeGateway | undefined;
afterEach(async () => {
  gateway?.close();
  gateway = undefined;
  await hub?.stop();
  hub = undefined;
});

async function hubWithDevice(options: Parameters<typeof startHub>[0] = {}): Promise<RunningHub> {
  hub = await startHub(options);
  gateway = await FakeGateway.connect(hub.port);
  gateway.send({ type: 'snapshot', devices: [device('d1')] });
  await waitFor(async () => (await api(hub!.base, 'GET', '/v1/devices/d1')).status === 200);
  return hub;
}

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('HTTP bodies and the frame limit agree', () => {
  it('a command just under the body limit, over the frame limit as a frame, is 413 at once and never sent', async () => {
    const { base } = await hubWithDevice();
    const payload = 'x'.repeat(MAX_FRAME_BYTES - 100);
    const body = JSON.stringify({ method: 'PUT', path: '/big', payload });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const reply = await api(base, 'POST', '/v1/devices/d1/send', body);
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe('payload_too_large');
    expect(reply.body.error.message).toMatch(/over the link's limit of 1048576 bytes$/);
    // The next command is the first the gateway sees.
    const small = api(base, 'POST', '/v1/devices/d1/send', { method: 'GET', path: '/small', timeout: 100 });
    expect((await gateway!.next('command')).path).toBe('/small');
    await small;
  });

  it('a body over the frame limit is 413', async () => {
    const { base } = await hubWithDevice();
    const body = JSON.stringify({ method: 'PUT', path: '/big', payload: 'x'.repeat(MAX_FRAME_BYTES) });
    expect((await api(base, 'POST', '/v1/devices/d1/send', body)).status).toBe(413);
  });

  it('a 100,000-deep JSON payload is 400, on send and on publish', async () => {
    const { base } = await hubWithDevice();
    const send = await api(
      base,
      'POST',
      '/v1/devices/d1/send',
      `{"method":"PUT","path":"/x","payload":${nested(100_000)}}`,
    );
    expect(send).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'the body nests deeper than 64 levels' } },
    });
    const publish = await api(
      base,
      'POST',
      '/publish?clientName=deep',
      `{"event":"app.deep","data":${nested(100_000)}}`,
    );
    expect(publish.status).toBe(400);
    expect((await api(base, 'POST', '/publish?clientName=ok', `{"event":"app.ok","data":${nested(60)}}`)).status).toBe(
      201,
    );
  });

  it('a deep frame from a gateway is refused with an error frame; the link stays', async () => {
    await hubWithDevice();
    gateway!.ws.send(
      `{"type":"telemetry","seq":1,"device":"d1","path":"/v","ct":50,"value":${nested(100_000)},"ts":1}`,
    );
    expect(await gateway!.next('error')).toMatchObject({
      code: 'invalid_frame',
      message: 'JSON nested deeper than 64 levels',
    });
    gateway!.send({ type: 'telemetry', seq: 1, device: 'd1', path: '/v', ct: 50, value: 1, ts: 1 });
    await gateway!.acked(1);
  });
});

/** Starts an upload of `total` bytes, sends part of it, then drops the connection. */
function abortedUpload(port: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/publish?clientName=upload',
      headers: { ...authHeaders, 'content-length': 100_000 },
    });
    req.on('error', () => resolve());
    req.write('{"event":"app.x","data":"' + 'y'.repeat(10_000), () => {
      setImmediate(() => req.destroy());
    });
  });
}

const errorsOf = (records: LogRecord[]): LogRecord[] => records.filter((record) => record.level >= 50);

describe('connections', () => {
  it('200 aborted uploads log one debug line each and no error', async () => {
    const { log, records } = recordingLogger();
    hub = await startHub({ log });
    for (let i = 0; i < 200; i++) await abortedUpload(hub.port);
    await waitFor(() => records.filter((r) => r.msg === 'request aborted by the client').length === 200);
    expect(errorsOf(records)).toEqual([]);
    const aborted = records.filter((r) => r.msg === 'request aborted by the client');
    expect(aborted.every((r) => r.level === 20 && r.err === undefined)).toBe(true);
  });

  it('connections past the per-address cap are closed at once; those within it are served', async () => {
    const { log, records } = recordingLogger();
    hub = await startHub({ log, hub: { maxConnectionsPerAddress: 5 } });
    const sockets: net.Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      const socket = net.connect(hub.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const index = sockets.push(socket) - 1;
      closed[index] = false;
      socket.once('close', () => (closed[index] = true));
      socket.on('error', () => {});
    }
    await waitFor(() => closed.filter(Boolean).length === 3);
    expect(closed).toEqual([false, false, false, false, false, true, true, true]);
    expect(records.filter((r) => r.msg === 'connections refused: per-address limit reached')).toHaveLength(1);
    for (const socket of sockets) socket.destroy();
    // Once the hub has seen them close, the address is served again.
    await waitFor(async () => (await api(hub!.base, 'GET', '/v1/devices').catch(() => undefined))?.status === 200);
  });

  it('a connection that sends nothing is closed after idleTimeoutMs', async () => {
    hub = await startHub({ hub: { idleTimeoutMs: 500 } });
    const socket = net.connect(hub.port, '127.0.0.1');
    socket.on('error', () => {});
    const opened = Date.now();
    await new Promise((resolve) => socket.once('connect', resolve));
    await new Promise((resolve) => socket.once('close', resolve));
    // Closed by the hub (the test never closes it), within the header timeout and one check interval.
    expect(Date.now() - opened).toBeLessThan(10_000);
  });
});
