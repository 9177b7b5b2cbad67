import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Thing } from '../../src/thing/index.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { ObserverFixture } from './fixture.js';
import { Peer, reply } from './peer.js';
import { ContentFormat } from '../../src/coap/types.js';

const opened: Array<{ close?: () => Promise<void>; stop?: () => Promise<void> }> = [];

async function fixture(config: ConstructorParameters<typeof ObserverFixture>[0] = {}): Promise<ObserverFixture> {
  const fx = new ObserverFixture(config);
  opened.push(fx);
  await fx.observer.start();
  return fx;
}

async function thing(name: string): Promise<Thing> {
  // Still sensors: every notification in these tests is one the test caused.
  const t = new Thing({ log: silentLogger(), name, sensorIntervalMs: 0 });
  await t.start();
  opened.push(t);
  return t;
}

const temperatures = (fx: ObserverFixture, id: string): unknown[] =>
  fx.values(id, '/sensors/temp').map((v) => (v as { temperature: number }).temperature);

afterEach(async () => {
  // Observer first (it deregisters from the things), then the things.
  for (const item of opened.splice(0)) await (item.close ?? item.stop)!.call(item);
});

describe('Observer (RFC 7641) against a simulated thing', () => {
  it('delivers every observed value change to the bus exactly once, in order', async () => {
    const fx = await fixture();
    const t = await thing('obs-order');
    const { id } = fx.register('obs-order', t.address(), t.links());
    await waitFor(() => t.observerCount === 2, { what: 'temp and hum observed' });
    await waitFor(() => temperatures(fx, id).length === 1, { what: 'initial value' });

    const changes = [20.5, 21, 21.5, 22, 22.5, 23];
    for (const value of changes) t.setTemperature(value);
    await waitFor(() => temperatures(fx, id).length === 1 + changes.length, { what: 'all notifications' });
    // Barrier: a later notification on the same observation; a duplicate of an earlier one would arrive before it.
    t.setTemperature(99);
    await waitFor(() => temperatures(fx, id).includes(99), { what: 'the barrier notification' });
    expect(temperatures(fx, id).slice(1, -1)).toEqual(changes);
    const event = fx.telemetry.find((e) => e.path === '/sensors/temp')!;
    expect(event).toMatchObject({ device: id, ct: 50 });
    expect(typeof event.ts).toBe('number');
  });

  it('re-observes a thing that restarted once the Pinger sees it back online', async () => {
    const fx = await fixture();
    const t = await thing('obs-restart');
    const { id } = fx.register('obs-restart', t.address(), t.links());
    await waitFor(() => t.observerCount === 2, { what: 'observed' });

    await t.goSilent();
    fx.setStatus(id, 'offline');
    await t.comeBack();
    expect(t.observerCount).toBe(0); // the restart forgot its observers
    const sent = t.stats.notifications;
    t.setTemperature(30);
    // Barrier: the thing has no observer, so it sent no notification that could still be on its way.
    expect(t.stats.notifications).toBe(sent);
    expect(temperatures(fx, id)).not.toContain(30);

    fx.setStatus(id, 'online');
    await waitFor(() => t.observerCount === 2, { what: 're-observed' });
    t.setTemperature(31);
    await waitFor(() => temperatures(fx, id).includes(31), { what: 'value after restart' });
  });

  it('re-observes a thing that registered anew after a restart', async () => {
    const fx = await fixture();
    const t = await thing('obs-reregister');
    const { id } = fx.register('obs-reregister', t.address(), t.links());
    await waitFor(() => t.observerCount === 2, { what: 'observed' });

    await t.goSilent();
    await t.comeBack();
    expect(t.observerCount).toBe(0);
    await sleep(2); // a new registration carries a new createdAt
    fx.register('obs-reregister', t.address(), t.links());
    await waitFor(() => t.observerCount === 2, { what: 're-observed' });
    t.setTemperature(12.5);
    await waitFor(() => temperatures(fx, id).includes(12.5), { what: 'value after re-registration' });
  });

  it('cancels the observations of a removed registration with a deregistration the thing sees', async () => {
    const fx = await fixture();
    const t = await thing('obs-remove');
    const { id } = fx.register('obs-remove', t.address(), t.links());
    await waitFor(() => t.observerCount === 2, { what: 'observed' });
    const before = fx.telemetry.length;

    fx.remove(id);
    // The thing drops an observer only on a GET with its token (RFC 7641 §3.6), never by being forgotten.
    await waitFor(() => t.observerCount === 0, { what: 'observers deregistered' });
    const sent = t.stats.notifications;
    t.setTemperature(40);
    // Barrier: the thing has no observer left, so it sent no notification that could still be on its way.
    expect(t.stats.notifications).toBe(sent);
    expect(fx.telemetry.length).toBe(before);
  });

  it('moves its observations when a device re-registers from a new address', async () => {
    const fx = await fixture();
    const first = await thing('obs-move');
    const { id } = fx.register('obs-move', first.address(), first.links());
    await waitFor(() => first.observerCount === 2, { what: 'observed at the first address' });

    const second = await thing('obs-move-2');
    fx.store.devices.update(id, second.address());
    fx.store.registrations.put({
      ...fx.store.registrations.get(id)!,
      base: `coap://${second.address().host}:${second.address().port}`,
    });
    fx.bus.emit('device.updated', { device: fx.store.info(fx.store.devices.get(id)!), refresh: false });
    await waitFor(() => second.observerCount === 2 && first.observerCount === 0, { what: 'observations moved' });
  });

  it('polls resources a poll rule selects by rt, and does not observe them', async () => {
    const fx = await fixture({ poll: [{ rt: 'light', intervalSeconds: 0.1 }] });
    const t = await thing('poll-rt');
    const { id } = fx.register('poll-rt', t.address(), t.links());
    await waitFor(() => fx.values(id, '/actuators/led').length >= 3, { what: 'three polls' });
    expect(fx.values(id, '/actuators/led')[0]).toEqual({ on: false });
    expect(fx.observer.taskCount()).toEqual({ observe: 2, poll: 1 });
  });

  it('polls a resource that answers an observe request without Observe (RFC 7641 §3.1)', async () => {
    const fx = await fixture({ defaultMaxAgeSeconds: 0.1 });
    const t = await thing('obs-refused');
    // The registration claims `obs` for the actuator, which the thing cannot observe.
    const links = t
      .links()
      .map((l) => (l.href === '/actuators/led' ? { ...l, attrs: { ...l.attrs, obs: true as const } } : l));
    const { id } = fx.register('obs-refused', t.address(), links);
    await waitFor(() => fx.values(id, '/actuators/led').length >= 3, { what: 'polled after the plain reply' });
    expect(t.observerCount).toBe(2);
  });

  it('leaves an offline device alone and picks it up again when it is back', async () => {
    const fx = await fixture({ poll: [{ path: '/actuators/led', intervalSeconds: 0.05 }] });
    const t = await thing('poll-offline');
    // The control device is polled on the same schedule: its polls are the barrier that proves time has passed.
    const control = await thing('poll-control');
    const { id } = fx.register('poll-offline', t.address(), t.links());
    const { id: controlId } = fx.register('poll-control', control.address(), control.links());
    const polls = (device: string): number => fx.values(device, '/actuators/led').length;
    await waitFor(() => polls(id) >= 1 && polls(controlId) >= 1, { what: 'first polls' });
    fx.setStatus(id, 'offline');
    // Two more polls of the control: a poll of the offline device sent before it went offline is answered by then.
    let mark = polls(controlId);
    await waitFor(() => polls(controlId) >= mark + 2, { what: 'the control polled twice' });
    const whileOffline = polls(id);
    mark = polls(controlId);
    await waitFor(() => polls(controlId) >= mark + 3, { what: 'three more polls of the control' });
    expect(polls(id)).toBe(whileOffline);
    fx.setStatus(id, 'online');
    await waitFor(() => fx.values(id, '/actuators/led').length > whileOffline, { what: 'polling resumed' });
  });

  it('observes every registration already in the store when it starts', async () => {
    const fx = new ObserverFixture();
    opened.push(fx);
    const t = await thing('obs-stored');
    fx.register('obs-stored', t.address(), t.links(), false);
    await fx.observer.start();
    await waitFor(() => t.observerCount === 2, { what: 'observed from the store' });
    await fx.observer.stop();
    await waitFor(() => t.observerCount === 0, { what: 'stop() deregistered' });
  });

  it('stops without waiting out the deregistration of a device that went silent, and still deregisters the others', async () => {
    // A deadline far beyond the grace stop() allows: had stop() waited for the silent device, it would take this long.
    const requestTimeoutMs = 20_000;
    const fx = await fixture({ requestTimeoutMs });
    const live = await thing('obs-stop-live');
    const silent = await thing('obs-stop-silent');
    fx.register('obs-stop-live', live.address(), live.links());
    fx.register('obs-stop-silent', silent.address(), silent.links());
    await waitFor(() => live.observerCount === 2 && silent.observerCount === 2, { what: 'both observed' });
    await silent.goSilent();

    const started = Date.now();
    await fx.observer.stop();
    expect(Date.now() - started).toBeLessThan(requestTimeoutMs / 2);
    await waitFor(() => live.observerCount === 0, { what: 'the live thing deregistered' });
  });

  it('lets a registration followed at once by device.online deregister the old observation before observing anew', async () => {
    // The RD emits device.registered and then device.online for a device that re-registers while offline:
    // the second event replaces a task that has not begun yet, and its successor must still wait for the
    // deregistration of the first stream (RFC 7641 §3.6), which this peer answers only after a while.
    const fx = await fixture();
    let deregistrationsAnswered = 0;
    const answeredWhenObserved: number[] = [];
    const late = new Set<NodeJS.Timeout>();
    const peer = await new Peer({
      '/q': (_req, res, observe) => {
        if (observe === 0) answeredWhenObserved.push(deregistrationsAnswered);
        const send = (): void => reply(res, ContentFormat.json, JSON.stringify({ observe }));
        if (observe !== 1) return send();
        const timer = setTimeout(() => {
          late.delete(timer);
          deregistrationsAnswered++;
          send();
        }, 300);
        late.add(timer);
      },
    }).start();
    // After the fixture (closed first, so its deregistrations are answered), before the socket closes.
    opened.push({
      close: () => {
        for (const timer of late) clearTimeout(timer);
        return peer.close();
      },
    });
    const links = [{ href: '/q', attrs: { obs: true as const } }];
    const { id } = fx.register('obs-handover', peer.address, links);
    await waitFor(() => fx.values(id, '/q').length === 1, { what: 'first observation' });

    await sleep(2); // a new registration carries a new createdAt
    fx.register('obs-handover', peer.address, links);
    fx.setStatus(id, 'offline');
    fx.setStatus(id, 'online');
    await waitFor(() => answeredWhenObserved.length === 2, { what: 'observed anew' });
    expect(answeredWhenObserved).toEqual([0, 1]);
  });
});
