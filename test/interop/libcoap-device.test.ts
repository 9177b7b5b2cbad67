import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { waitFor } from '../helpers/wait.js';
import { freeUdpPort } from '../helpers/ports.js';
import { coapClient } from '../thing/libcoap.js';
import { LIBCOAP, LibcoapDevice, libcoapMissing } from './libcoap/device.js';

/**
 * libcoap's `coap-server-notls` as the device, registered by `coap-client-notls` from a port of its own with
 * `base=` (as a commissioning tool would, RFC 9176 §5.1): everything the gateway sends to the device must go
 * to the base, from the RD's port, on the gateway's default configuration.
 */
const missing = libcoapMissing();
if (missing) console.warn(`skipping ${LIBCOAP} device interop: ${missing}`);

describe.skipIf(missing !== undefined)(`${LIBCOAP} coap-server-notls as a device registered with base=`, () => {
  let gateway: GatewayProcess;
  let device: LibcoapDevice;
  let id: string;

  beforeAll(async () => {
    gateway = await GatewayProcess.start({ prefix: 'coregate-libcoap-device-' });
    device = new LibcoapDevice('::1', await freeUdpPort('::1'));
    await device.start();
  });
  afterAll(async () => {
    await device?.stop();
    await gateway?.stop();
  });

  const telemetry = (since: number): number =>
    gateway.logged({ event: 'telemetry', device: id, path: '/time' }).filter((line) => (line.time as number) > since)
      .length;

  it(`${LIBCOAP} coap-client-notls: registers the server at its base from another port`, async () => {
    const base = encodeURIComponent(`coap://[::1]:${device.port}`);
    await coapClient([
      '-m',
      'post',
      '-t',
      '40',
      '-e',
      '</time>;rt="ticks";ct=0;obs,</example_data>;ct=0',
      `coap://[::1]:${gateway.rdPort}/rd?ep=libcoap-1&lt=3600&base=${base}`,
    ]);
    const registered = await gateway.waitForDevice('libcoap-1', (d) => d.status === 'online', 'the registration');
    id = registered.id;
    // RFC 9176 §5.1: the device's address is its base, not the registrant's source port.
    expect(registered.address).toBe(`[::1]:${device.port}`);
  });

  it(`${LIBCOAP} coap-server-notls: /time is observed and commands reach the base, all from the RD's port`, async () => {
    await waitFor(() => telemetry(0) >= 2, { what: 'two notifications of /time', timeoutMs: 15_000 });

    const put = await gateway.send(id, { method: 'PUT', path: '/example_data', payload: 'from coregate', ct: 0 });
    expect(put).toMatchObject({ httpStatus: 200 });
    expect(['2.01', '2.04']).toContain(put.code);
    const get = await gateway.send(id, { method: 'GET', path: '/example_data' });
    // libcoap answers without Content-Format here: the hub hands such a payload over as base64.
    expect(get).toMatchObject({ httpStatus: 200, code: '2.05', ct: null, encoding: 'base64' });
    expect(Buffer.from(get.payload as string, 'base64').toString()).toBe('from coregate');

    const wire = device.datagrams().filter((d) => d.direction === 'received');
    expect(wire.some((d) => / c:GET .*Observe:0/.test(d.pdu) || /Observe:0.*Uri-Path:time/.test(d.pdu))).toBe(true);
    // Every datagram the device received came from the gateway's RD port (one endpoint per bound address).
    expect(new Set(wire.map((d) => d.peerPort))).toEqual(new Set([gateway.rdPort]));
  });

  it(`${LIBCOAP} coap-server-notls: killed, goes offline within 30 s; restarted, telemetry is back within 10 s`, async () => {
    expect(gateway.logged({ event: 'device.offline', device: id })).toEqual([]);
    const diedAt = Date.now();
    await device.kill();
    await gateway.waitForDevice('libcoap-1', (d) => d.status === 'offline', 'the device offline', 30_000);
    const offlineAfterMs = Date.now() - diedAt;
    // RFC 7641 §3.3.1 Max-Age 1: quiet after ~2 s, then a liveness check of three pings.
    expect(offlineAfterMs).toBeLessThan(30_000);

    const cameBackAt = Date.now();
    await device.start();
    await waitFor(() => telemetry(cameBackAt) >= 1, { what: 'telemetry after the restart', timeoutMs: 10_000 });
    const telemetryAfterMs = Date.now() - cameBackAt;
    expect(telemetryAfterMs).toBeLessThan(10_000);
    await gateway.waitForDevice('libcoap-1', (d) => d.status === 'online', 'the device online again', 10_000);
    const onlineAfterMs = Date.now() - cameBackAt;

    // The restarted device was found by a ping to its base, from the RD's port, then observed again.
    const wire = device.datagrams().filter((d) => d.direction === 'received');
    expect(wire.some((d) => / c:0\.00 /.test(d.pdu) || /t:CON c:EMPTY/.test(d.pdu))).toBe(true);
    expect(new Set(wire.map((d) => d.peerPort))).toEqual(new Set([gateway.rdPort]));
    console.info(
      `${LIBCOAP}: offline ${offlineAfterMs} ms after dying; after its return, telemetry in ${telemetryAfterMs} ms, online in ${onlineAfterMs} ms`,
    );
  });
});
