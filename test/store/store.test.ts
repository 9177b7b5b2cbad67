import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BATCH_FULL_CHANGES, openDatabase, Store, WriteBatch, type Registration } from '../../src/store/index.js';
import { silentLogger } from '../../src/log.js';

let dir: string;
let file: string;
let store: Store;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-store-'));
  file = path.join(dir, 'gw.db');
  store = new Store({ file, outboxMax: 10 });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function registration(deviceId: string, ep: string, now = Date.now()): Registration {
  return {
    deviceId,
    ep,
    d: null,
    base: 'coap://127.0.0.1:5683',
    baseExplicit: false,
    lt: 90,
    et: null,
    attrs: { lwm2m: '1.0' },
    links: [{ href: '/sensors/temp', attrs: { rt: 'temperature', obs: true } }],
    discovered: false,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 90_000,
  };
}

describe('store', () => {
  it('gives each device a short stable id and finds it by endpoint and address', () => {
    const device = store.devices.create({ ep: 'node1', d: null, host: '::1', port: 5683, source: 'registration' });
    expect(device.id).toMatch(/^[a-z2-9]{8}$/);
    expect(store.devices.findByEndpoint(null, 'node1')?.id).toBe(device.id);
    expect(store.devices.findByEndpoint('other-domain', 'node1')).toBeUndefined();
    const moved = store.devices.update(device.id, { host: '127.0.0.1', port: 6000 });
    expect(store.devices.findByAddress('::1', 5683)).toBeUndefined();
    expect(store.devices.findByAddress('127.0.0.1', 6000)).toEqual(moved);
  });

  it('enforces one device per (d, ep)', () => {
    store.devices.create({ ep: 'node1', d: 'x', host: 'a', port: 1, source: 'registration' });
    expect(() => store.devices.create({ ep: 'node1', d: 'x', host: 'b', port: 2, source: 'registration' })).toThrow(
      /UNIQUE/,
    );
    expect(store.devices.count()).toBe(1);
  });

  it('reports a status change once', () => {
    const device = store.devices.create({ ep: 'n', d: null, host: 'a', port: 1, source: 'registration' });
    expect(store.devices.setStatus(device.id, 'offline')?.status).toBe('offline');
    expect(store.devices.setStatus(device.id, 'offline')).toBeUndefined();
  });

  it('loses nothing across a restart', () => {
    const device = store.devices.create({ ep: 'node1', d: null, host: '::1', port: 5683, source: 'registration' });
    store.registrations.put(registration(device.id, 'node1'));
    const group = { id: 'g1', gp: 'lights', d: null, base: null, attrs: {}, members: [device.id], createdAt: 1 };
    store.groups.put(group);
    store.devices.setStatus(device.id, 'offline');
    store.close();

    store = new Store({ file, outboxMax: 10 });
    expect(store.devices.get(device.id)).toMatchObject({ ep: 'node1', status: 'offline' });
    expect(store.registrations.get(device.id)).toEqual(
      registration(device.id, 'node1', store.registrations.get(device.id)!.createdAt),
    );
    expect(store.groups.get('g1')).toEqual(group);
  });

  it('keeps every changed column of an update across a restart, the unchanged ones too', () => {
    const device = store.devices.create({ ep: 'node1', d: null, host: '::1', port: 5683, source: 'registration' });
    const first = registration(device.id, 'node1');
    store.registrations.put(first);
    const moved = store.devices.update(device.id, { host: '127.0.0.1', port: 6000 });
    const refreshed = { ...first, updatedAt: first.updatedAt + 5, expiresAt: first.expiresAt + 5 };
    store.registrations.put(refreshed);
    const relinked = { ...refreshed, lt: 120, links: [{ href: '/a', attrs: {} }], attrs: { lwm2m: '1.1' } };
    store.registrations.put(relinked);
    store.close();

    store = new Store({ file, outboxMax: 10 });
    expect(store.devices.get(device.id)).toEqual(moved);
    expect(store.registrations.get(device.id)).toEqual(relinked);
  });

  it('with background checkpoints, a worker copies the WAL into the database file', async () => {
    store.close();
    store = new Store({ file, backgroundCheckpoints: true });
    const before = fs.statSync(file).size;
    for (let i = 0; i < 50; i++) {
      store.devices.create({ ep: `node${i}`, d: 'x'.repeat(2000), host: 'h', port: i, source: 'registration' });
    }
    for (let waited = 0; fs.statSync(file).size === before && waited < 20_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(fs.statSync(file).size).toBeGreaterThan(before);
  });

  it('removes a device with its registration and group memberships', () => {
    const device = store.devices.create({ ep: 'node1', d: null, host: '::1', port: 5683, source: 'registration' });
    store.registrations.put(registration(device.id, 'node1'));
    store.groups.put({ id: 'g1', gp: 'lights', d: null, base: null, attrs: {}, members: [device.id], createdAt: 1 });
    store.removeDevice(device.id);
    expect(store.registrations.count()).toBe(0);
    expect(store.groups.get('g1')?.members).toEqual([]);
    store.close();
    store = new Store({ file });
    expect(store.groups.get('g1')?.members).toEqual([]);
  });

  it('holds one frozen copy of equal link lists, across a restart too', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((ep, i) =>
      store.devices.create({ ep, d: null, host: 'h', port: i + 1, source: 'registration' }),
    );
    const heldA = store.registrations.put(registration(a!.id, 'a'));
    const heldB = store.registrations.put(registration(b!.id, 'b'));
    expect(heldB.links).toBe(heldA.links);
    expect(store.registrations.get(b!.id)!.links).toBe(heldA.links);
    expect(Object.isFrozen(heldA.links) && Object.isFrozen(heldA.links[0]!.attrs)).toBe(true);
    const shared = heldA.links;
    store.close();

    store = new Store({ file, outboxMax: 10 });
    expect(store.registrations.get(a!.id)!.links).toBe(store.registrations.get(b!.id)!.links);
    expect(store.registrations.get(a!.id)!.links).toEqual(shared);
    // A device with other links holds them, as registered; one registered with the first links again shares them.
    const other = store.registrations.put({
      ...store.registrations.get(b!.id)!,
      links: [{ href: '/other', attrs: {} }],
    });
    expect(other.links).toEqual([{ href: '/other', attrs: {} }]);
    expect(store.registrations.put(registration(c!.id, 'c')).links).toBe(store.registrations.get(a!.id)!.links);
    store.close();

    store = new Store({ file, outboxMax: 10 });
    expect(store.registrations.get(b!.id)!.links).toEqual([{ href: '/other', attrs: {} }]);
    expect(store.registrations.get(c!.id)!.links).toBe(store.registrations.get(a!.id)!.links);
  });

  it('lists expired registrations', () => {
    const a = store.devices.create({ ep: 'a', d: null, host: 'h', port: 1, source: 'registration' });
    const b = store.devices.create({ ep: 'b', d: null, host: 'h', port: 2, source: 'registration' });
    store.registrations.put({ ...registration(a.id, 'a'), expiresAt: 1000 });
    store.registrations.put({ ...registration(b.id, 'b'), expiresAt: 3000 });
    expect(store.registrations.expired(2000).map((r) => r.ep)).toEqual(['a']);
  });
});

describe('durability (group commit)', () => {
  it('batches writes until commit(): another connection sees them only then, all together', () => {
    store.devices.create({ ep: 'batched', d: null, host: 'h', port: 1, source: 'registration' });
    const entry = store.write(() => store.outbox.append('event', 'device.registered', null, {}));
    const before = new Store({ file });
    expect(before.devices.findByEndpoint(null, 'batched')).toBeUndefined();
    before.close();

    expect(store.commit()).toBe(true);
    const reader = new Store({ file });
    expect(reader.devices.findByEndpoint(null, 'batched')).toBeDefined();
    expect(reader.outbox.unacked().map((e) => e.seq)).toEqual([entry.seq]);
    reader.close();
  });

  it('resolves durable() when the batch window has committed the writes made before it', async () => {
    store.devices.create({ ep: 'windowed', d: null, host: 'h', port: 1, source: 'registration' });
    await store.durable();
    const reader = new Store({ file });
    expect(reader.devices.findByEndpoint(null, 'windowed')).toBeDefined();
    reader.close();
  });

  it('commits a full batch at the end of the turn rather than at the end of its window', async () => {
    const db = openDatabase(path.join(dir, 'batch.db'), [(db) => db.exec('CREATE TABLE t (n INTEGER)')]);
    // A window long enough that only the early commit can make these rows visible to a second connection.
    const writes = new WriteBatch(db, silentLogger(), 60_000);
    const reader = openDatabase(path.join(dir, 'batch.db'), [(db) => db.exec('CREATE TABLE t (n INTEGER)')]);
    try {
      const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
      for (let i = 0; i < BATCH_FULL_CHANGES; i++) writes.write(() => insert.run(i));
      let durable = false;
      void writes.durable().then(() => (durable = true));
      // Immediates run in the order they were queued: the batch's commit runs before this one resolves.
      await new Promise((resolve) => setImmediate(resolve));
      expect(durable).toBe(true);
      expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(BATCH_FULL_CHANGES);
    } finally {
      reader.close();
      writes.commit();
      db.close();
    }
  });

  it('leaves nothing of a change that throws, and keeps the rest of the batch', () => {
    store.devices.create({ ep: 'kept', d: null, host: 'h', port: 1, source: 'registration' });
    expect(() =>
      store.write(() => {
        store.outbox.append('event', 'device.registered', null, {});
        throw new Error('half-way');
      }),
    ).toThrow('half-way');
    store.commit();
    const reader = new Store({ file });
    expect(reader.devices.findByEndpoint(null, 'kept')).toBeDefined();
    expect(reader.outbox.unacked()).toEqual([]);
    reader.close();
  });
});

describe('outbox', () => {
  it('keeps seq growing across acks and restarts and resends only the unacked', () => {
    const first = store.outbox.append('event', 'device.registered', 'd1', { a: 1 });
    const second = store.outbox.append('telemetry', 'telemetry', 'd1', { v: 2 });
    store.outbox.ackUpTo(first.seq);
    expect(store.outbox.unacked().map((e) => e.seq)).toEqual([second.seq]);
    store.close();
    store = new Store({ file, outboxMax: 10 });
    store.outbox.ackUpTo(second.seq);
    const third = store.outbox.append('telemetry', 'telemetry', 'd1', { v: 3 });
    expect(third.seq).toBe(second.seq + 1);
    expect(store.outbox.unacked()).toEqual([third]);
  });

  it('when full drops the oldest telemetry, never events, and counts the drops', () => {
    store.outbox.append('event', 'device.registered', 'd1', {});
    for (let i = 0; i < 20; i++) store.outbox.append('telemetry', 'telemetry', 'd1', { i });
    const kept = store.outbox.unacked(0, 100);
    expect(kept.length).toBeLessThanOrEqual(10);
    expect(kept[0]!.kind).toBe('event');
    expect(kept.at(-1)!.body).toEqual({ i: 19 });
    expect(store.outbox.dropped()).toBe(21 - kept.length);
  });
});
