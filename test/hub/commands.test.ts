import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, FakeGateway, GATEWAY_ID, api, device, startHub, type RunningHub } from './harness.js';

let hub: RunningHub;
let gateway: FakeGateway;

beforeEach(async () => {
  hub = await startHub({ tuning: { commandGraceMs: 200, maxBodyBytes: 4096 } });
  gateway = await FakeGateway.connect(hub.port);
  gateway.send({ type: 'snapshot', devices: [device('d1')] });
  await waitFor(async () => (await api(hub.base, 'GET', '/v1/devices/d1')).status === 200);
});
afterEach(async () => {
  gateway.close();
  await hub.stop();
});

describe('POST /v1/devices/:id/send', () => {
  it('forwards a command frame and answers with the device reply', async () => {
    const reply = api(hub.base, 'POST', '/v1/devices/d1/send', {
      method: 'PUT',
      path: '/led',
      payload: { on: true },
      query: 'a=1&b',
    });
    const command = await gateway.next('command');
    expect(command).toMatchObject({
      device: 'd1',
      method: 'PUT',
      path: '/led',
      payload: { on: true },
      ct: 50,
      query: ['a=1', 'b'],
    });
    expect(command.timeout).toBe(hub.config.commandTimeoutMs);
    gateway.send({ type: 'result', id: command.id, code: '2.04', ct: 50, payload: { on: true } });
    expect(await reply).toEqual({
      status: 200,
      body: { status: 'ok', device: 'd1', gateway: GATEWAY_ID, code: '2.04', ct: 50, payload: { on: true } },
    });
  });

  it('returns a CoAP error reply as a delivered reply (200 with its code)', async () => {
    const reply = api(hub.base, 'POST', '/v1/devices/d1/send', { method: 'GET', path: '/nope' });
    const command = await gateway.next('command');
    gateway.send({ type: 'result', id: command.id, code: '4.04', ct: 0, payload: 'Not Found' });
    expect(await reply).toMatchObject({ status: 200, body: { code: '4.04', payload: 'Not Found' } });
  });

  it('passes binary payloads as base64 both ways', async () => {
    const reply = api(hub.base, 'POST', '/v1/devices/d1/send', {
      method: 'POST',
      path: '/fw',
      payload: 'AAEC',
      encoding: 'base64',
      ct: 42,
    });
    const command = await gateway.next('command');
    expect(command).toMatchObject({ payload: 'AAEC', encoding: 'base64', ct: 42 });
    gateway.send({ type: 'result', id: command.id, code: '2.04', ct: 42, payload: 'AwQ=', encoding: 'base64' });
    expect((await reply).body).toMatchObject({ ct: 42, payload: 'AwQ=', encoding: 'base64' });
  });

  it('also answers the Cometa route with Authorization: OAuth', async () => {
    const reply = api(
      hub.base,
      'POST',
      '/v1/applications/app1/devices/d1/send',
      { method: 'GET', path: '/temp' },
      {
        authorization: `OAuth ${API_KEY}`,
      },
    );
    const command = await gateway.next('command');
    gateway.send({ type: 'result', id: command.id, code: '2.05', ct: 50, payload: 21.5 });
    expect(await reply).toMatchObject({ status: 200, body: { code: '2.05', payload: 21.5 } });
  });

  it.each([
    ['unknown_device', 404],
    ['device_offline', 503],
    ['timeout', 504],
    ['bad_request', 400],
  ] as const)('maps the gateway error %s to %i', async (code, status) => {
    const reply = api(hub.base, 'POST', '/v1/devices/d1/send', { method: 'GET', path: '/temp' });
    const command = await gateway.next('command');
    gateway.send({ type: 'result', id: command.id, error: { code, message: 'from the gateway' } });
    expect(await reply).toEqual({ status, body: { error: { code, message: 'from the gateway' } } });
  });

  it('answers 504 when no result comes in time', async () => {
    const reply = await api(hub.base, 'POST', '/v1/devices/d1/send', { method: 'GET', path: '/temp', timeout: 100 });
    expect(reply.status).toBe(504);
    expect(reply.body.error.code).toBe('timeout');
  });

  it('answers 503 when the gateway drops the link mid-command, and while it is away', async () => {
    const reply = api(hub.base, 'POST', '/v1/devices/d1/send', { method: 'GET', path: '/temp' });
    await gateway.next('command');
    gateway.close();
    expect(await reply).toMatchObject({ status: 503, body: { error: { code: 'gateway_disconnected' } } });
    const later = await api(hub.base, 'POST', '/v1/devices/d1/send', { method: 'GET', path: '/temp' });
    expect(later).toMatchObject({ status: 503, body: { error: { code: 'gateway_disconnected' } } });
    expect((await api(hub.base, 'GET', '/v1/devices/d1')).body.gatewayConnected).toBe(false);
  });

  it('answers 404 for a device no gateway has', async () => {
    const reply = await api(hub.base, 'POST', '/v1/devices/ghost/send', { method: 'GET', path: '/temp' });
    expect(reply).toMatchObject({ status: 404, body: { error: { code: 'unknown_device' } } });
  });

  it.each([
    [{ path: '/temp' }, 'method:'],
    [{ method: 'FETCHX', path: '/temp' }, 'method:'],
    [{ method: 'GET', path: 'temp' }, 'path: must start with "/"'],
    [{ method: 'GET', path: '/t', timeout: -1 }, 'timeout:'],
    [{ method: 'GET', path: '/t', extra: 1 }, 'body:'],
    [{ method: 'GET', path: '/t', payload: '!!', encoding: 'base64' }, 'payload: must be a base64 string'],
    ['{"method":', 'not valid JSON'],
    ['', 'the body is empty'],
    ['[1]', 'body:'],
  ])('answers 400 naming the problem for %j', async (body, problem) => {
    const reply = await api(hub.base, 'POST', '/v1/devices/d1/send', body);
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('bad_request');
    expect(reply.body.error.message).toContain(problem);
  });

  it('answers 413 for an oversized body, and reads JSON whatever the content-type', async () => {
    const big = await api(hub.base, 'POST', '/v1/devices/d1/send', {
      method: 'PUT',
      path: '/x',
      payload: 'x'.repeat(10_000),
    });
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    const text = await api(hub.base, 'POST', '/v1/devices/d1/send', 'method=GET', {
      'x-api-key': API_KEY,
      'content-type': 'text/plain',
    });
    expect(text.body.error.message).toContain('not valid JSON');
  });
});

describe('authentication and routing', () => {
  it.each([
    [{ 'x-api-key': API_KEY }, 200],
    [{ authorization: `Bearer ${API_KEY}` }, 200],
    [{ 'x-api-key': 'wrong' }, 401],
    [{}, 401],
  ])('GET /v1/devices with %j → %i', async (headers, status) => {
    expect((await api(hub.base, 'GET', '/v1/devices', undefined, headers)).status).toBe(status);
  });

  it('takes the key from the apiKey query too', async () => {
    expect((await api(hub.base, 'GET', `/v1/devices?apiKey=${API_KEY}`, undefined, {})).status).toBe(200);
  });

  it('answers 401 before looking at the body, 404 for unknown routes, 405 for a wrong method', async () => {
    const unauthorised = await api(
      hub.base,
      'POST',
      '/v1/devices/d1/send',
      { method: 'GET', path: '/t' },
      { 'x-api-key': 'no' },
    );
    expect(unauthorised).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect((await api(hub.base, 'GET', '/v2/things')).status).toBe(404);
    expect((await api(hub.base, 'DELETE', '/v1/devices')).status).toBe(405);
  });

  it('lists every device with its gateway, and filters by gateway', async () => {
    const all = await api(hub.base, 'GET', '/v1/devices');
    expect(all.body.devices).toEqual([
      expect.objectContaining({ id: 'd1', gateway: GATEWAY_ID, resources: device('d1').resources }),
    ]);
    expect((await api(hub.base, 'GET', '/v1/devices?gateway=other')).body.devices).toEqual([]);
  });
});
