import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdFixture } from '../rd/fixture.js';
import { libcoapClientMissing } from '../helpers/tools.js';

/** libcoap's client: a CoAP implementation nobody here wrote drives the RD. */
const CLIENT = 'coap-client-notls';

const available = libcoapClientMissing() === undefined;

interface Run {
  code: string | undefined;
  locationPath: string[];
  payload: string;
}

/** Runs coap-client-notls with `-v 7`, which prints the response PDU: `v:1 t:ACK c:2.01 ... [ Location-Path:rd, ... ]`. */
function coapClient(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(CLIENT, ['-B', '5', '-v', '7', ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err && err.killed) return reject(err);
      const output = `${stdout}\n${stderr}`;
      // The last response PDU is the final one (block-wise transfers print 2.31 Continue first).
      const response = output
        .split('\n')
        .filter((line) => /^v:1 t:(ACK|CON|NON) c:[245]\.\d\d/.test(line))
        .at(-1);
      resolve({
        code: /c:([245]\.\d\d)/.exec(response ?? '')?.[1],
        locationPath: [...(response ?? '').matchAll(/Location-Path:([^,\s\]]+)/g)].map((m) => m[1]!),
        payload: / :: '(.*)'$/.exec(response ?? '')?.[1] ?? '',
      });
    });
  });
}

describe.skipIf(!available)('libcoap coap-client-notls against the RD', () => {
  let rd: RdFixture;
  let port: number;
  beforeAll(async () => {
    rd = await new RdFixture().start();
    port = rd.port;
  });
  afterAll(async () => {
    await rd.close();
  });

  it('discovers the RD interfaces at /.well-known/core?rt=core.rd*', async () => {
    const run = await coapClient([`coap://127.0.0.1:${port}/.well-known/core?rt=core.rd*`]);
    expect(run.code).toBe('2.05');
    expect(run.payload).toContain('</rd>;rt="core.rd"');
    expect(run.payload).toContain('</rd-lookup/res>;rt="core.rd-lookup-res"');
  });

  it('registers, looks up, updates and deletes over IPv6 and IPv4', async () => {
    const registered = await coapClient([
      '-m',
      'post',
      '-t',
      '40',
      '-e',
      '</sensors/temp>;rt="temperature";if="sensor"',
      `coap://[::1]:${port}/rd?ep=node1&lt=300`,
    ]);
    expect(registered.code).toBe('2.01');
    expect(registered.locationPath).toHaveLength(2);
    expect(registered.locationPath[0]).toBe('rd');
    const location = `/${registered.locationPath.join('/')}`;

    const lookup = await coapClient([`coap://127.0.0.1:${port}/rd-lookup/res?rt=temperature`]);
    expect(lookup.code).toBe('2.05');
    expect(lookup.payload).toMatch(
      /^<coap:\/\/\[::1\]:\d+\/sensors\/temp>;rt="temperature";if="sensor";anchor="coap:\/\/\[::1\]:\d+"$/,
    );

    const updated = await coapClient(['-m', 'post', `coap://[::1]:${port}${location}?lt=600`]);
    expect(updated.code).toBe('2.04');
    expect(rd.store.registrations.get(registered.locationPath[1]!)!.lt).toBe(600);

    const endpoints = await coapClient([`coap://127.0.0.1:${port}/rd-lookup/ep?ep=node1`]);
    expect(endpoints.payload).toContain(`<${location}>;base="coap://[::1]:`);

    const deleted = await coapClient(['-m', 'delete', `coap://[::1]:${port}${location}`]);
    expect(deleted.code).toBe('2.02');
    const gone = await coapClient([`coap://127.0.0.1:${port}${location}`]);
    expect(gone.code).toBe('4.04');
  });

  it('gets the RFC response codes for bad input', async () => {
    const missingEp = await coapClient(['-m', 'post', '-t', '40', '-e', '</a>', `coap://127.0.0.1:${port}/rd?lt=60`]);
    expect(missingEp.code).toBe('4.00');
    const malformed = await coapClient(['-m', 'post', '-t', '40', '-e', '</a', `coap://127.0.0.1:${port}/rd?ep=x`]);
    expect(malformed.code).toBe('4.00');
    const textPlain = await coapClient(['-m', 'post', '-t', '0', '-e', '</a>', `coap://127.0.0.1:${port}/rd?ep=x`]);
    expect(textPlain.code).toBe('4.15');
    const wrongMethod = await coapClient(['-m', 'put', `coap://127.0.0.1:${port}/rd-lookup/ep`]);
    expect(wrongMethod.code).toBe('4.05');
    const unknown = await coapClient([`coap://127.0.0.1:${port}/nowhere`]);
    expect(unknown.code).toBe('4.04');
  });

  it('fetches a lookup result larger than one block in full (RFC 7959 Block2)', async () => {
    for (let i = 0; i < 30; i++) {
      const run = await coapClient([
        '-m',
        'post',
        '-t',
        '40',
        '-e',
        `</sensors/a-rather-long-resource-path-${i}>;rt="bulk";if="sensor"`,
        `coap://127.0.0.1:${port}/rd?ep=bulk-${i}`,
      ]);
      expect(run.code).toBe('2.01');
    }
    const lookup = await new Promise<string>((resolve, reject) =>
      execFile(CLIENT, ['-B', '5', `coap://127.0.0.1:${port}/rd-lookup/res?rt=bulk`], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(lookup.length).toBeGreaterThan(2048);
    expect(lookup.match(/rt="bulk"/g)).toHaveLength(30);
  });

  it('registers a large link-format document sent block-wise (RFC 7959 Block1)', async () => {
    const links = Array.from({ length: 40 }, (_, i) => `</sensors/s${i}>;rt="sensor-${i}";if="sensor"`).join(',');
    const run = await coapClient([
      '-m',
      'post',
      '-t',
      '40',
      '-b',
      '64',
      '-e',
      links,
      `coap://127.0.0.1:${port}/rd?ep=blocky`,
    ]);
    expect(run.code).toBe('2.01');
    expect(rd.store.registrations.get(run.locationPath[1]!)!.links).toHaveLength(40);
  });
});
