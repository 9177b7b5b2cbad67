import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { Directory } from '../../rd/index.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let db: string;
let ids: string[];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-rd-cli-'));
  db = path.join(dir, 'gateway.db');
  const store = new Store({ file: db });
  const directory = new Directory(store, new EventBus(), silentLogger(), parseConfig({}).rd);
  const input = (ep: string, rt: string) => ({
    ep,
    d: null,
    lt: 3600,
    base: undefined,
    et: null,
    attrs: {},
    links: [{ href: `/${rt}`, attrs: { rt, obs: true as const } }],
  });
  ids = [
    directory.register(input('node1', 'temperature'), { host: '127.0.0.1', port: 5001 }, 'registration').deviceId,
    directory.register(input('node2', 'light'), { host: '::1', port: 5002 }, 'registration').deviceId,
  ];
  directory.flush();
  store.close();
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { COREGATE_DB: db });

describe('coregate lookup and devices', () => {
  it('lookup ep --json lists the registrations', async () => {
    const run = await cli('lookup', 'ep', '--json');
    expect(run.code).toBe(0);
    const found = JSON.parse(run.stdout) as Array<{ ep: string; location: string; base: string }>;
    expect(found.map((e) => e.ep)).toEqual(['node1', 'node2']);
    expect(found[1]).toMatchObject({ location: `/rd/${ids[1]}`, base: 'coap://[::1]:5002' });
  });

  it('lookup res --filter applies every filter', async () => {
    const run = await cli('lookup', 'res', '--filter', 'rt=temp*', '--filter', 'obs', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      {
        href: 'coap://127.0.0.1:5001/temperature',
        anchor: 'coap://127.0.0.1:5001',
        ep: 'node1',
        location: `/rd/${ids[0]}`,
        attrs: { rt: 'temperature', obs: true },
      },
    ]);
    const none = await cli('lookup', 'res', '--filter', 'rt=temp*', '--filter', 'ep=node2', '--json');
    expect(JSON.parse(none.stdout)).toEqual([]);
  });

  it('prints tables for people', async () => {
    const run = await cli('lookup', 'res');
    expect(run.stdout.split('\n')[0]).toMatch(/^HREF\s+EP\s+RT/);
    expect(run.stdout).toContain('coap://[::1]:5002/light');
    const devices = await cli('devices');
    expect(devices.code).toBe(0);
    expect(devices.stdout).toMatch(
      new RegExp(`${ids[0]}\\s+node1\\s+127\\.0\\.0\\.1:5001\\s+online\\s+registration\\s+/temperature`),
    );
  });

  it('devices --json gives id, ep, address, status and resources', async () => {
    const run = await cli('devices', '--json');
    const devices = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(devices[1]).toMatchObject({ id: ids[1], ep: 'node2', address: '[::1]:5002', status: 'online' });
    expect(devices[1]!.resources).toEqual([{ href: '/light', attrs: { rt: 'light', obs: true } }]);
  });

  it('bad usage exits 2 with one line; a missing database exits 1', async () => {
    const badType = await cli('lookup', 'things');
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain('type must be ep or res');
    const badFilter = await cli('lookup', 'ep', '--filter', 'page=1');
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toContain('page needs count');
    const missing = await runCli(['devices'], { COREGATE_DB: path.join(dir, 'absent.db') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no database at');
  });
});
