import { describe, expect, it } from 'vitest';
import { parseConfig, type ObserverConfig } from '../../src/config.js';
import type { Registration } from '../../src/store/index.js';
import { Limiter } from '../../observer/limiter.js';
import { selectResources } from '../../observer/index.js';

const config = (observer: Partial<ObserverConfig> = {}): ObserverConfig => parseConfig({ observer }).observer;

const registration = (base: string, links: Registration['links']): Registration => ({
  deviceId: 'dev1',
  ep: 'node1',
  d: null,
  base,
  baseExplicit: false,
  lt: 90,
  et: null,
  attrs: {},
  links,
  discovered: false,
  createdAt: 0,
  updatedAt: 0,
  expiresAt: 90_000,
});

const links: Registration['links'] = [
  { href: '/sensors/temp', attrs: { rt: 'temperature', obs: true } },
  { href: '/sensors/hum', attrs: { rt: 'humidity c.x', obs: true } },
  { href: '/actuators/led', attrs: { rt: 'light' } },
  { href: '/info', attrs: {} },
];

describe('selectResources', () => {
  it('observes every link marked obs, resolved against the base (RFC 9176 §4.3)', () => {
    const targets = selectResources(registration('coap://[2001:db8::1]:5700', links), config());
    expect(targets).toEqual([
      {
        deviceId: 'dev1',
        host: '2001:db8::1',
        port: 5700,
        path: '/sensors/temp',
        mode: 'observe',
        intervalSeconds: 60,
      },
      { deviceId: 'dev1', host: '2001:db8::1', port: 5700, path: '/sensors/hum', mode: 'observe', intervalSeconds: 60 },
    ]);
  });

  it('polls links a rule names by path or by one of their rt values, at the rule interval', () => {
    const targets = selectResources(
      registration('coap://10.0.0.1', links),
      config({
        poll: [
          { path: '/actuators/led', intervalSeconds: 5 },
          { rt: 'c.x', intervalSeconds: 7 },
        ],
      }),
    );
    expect(targets.map((t) => [t.path, t.port, t.mode, t.intervalSeconds])).toEqual([
      ['/sensors/temp', 5683, 'observe', 60],
      ['/sensors/hum', 5683, 'observe', 7],
      ['/actuators/led', 5683, 'poll', 5],
    ]);
  });

  it('observes LwM2M resources below a registered object instance, and never below what was not registered', () => {
    const lwm2m: Registration['links'] = [
      { href: '/', attrs: { rt: 'oma.lwm2m', ct: '110' } },
      { href: '/3/0', attrs: {} },
      { href: '/3303/0', attrs: {} },
    ];
    const targets = selectResources(
      registration('coap://10.0.0.1:56830', lwm2m),
      config({ observe: [{ path: '/3303/0/5700' }, { path: '/3/0/9' }, { path: '/3304/0/5700' }] }),
    );
    expect(targets.map((t) => [t.path, t.mode])).toEqual([
      ['/3/0/9', 'observe'],
      ['/3303/0/5700', 'observe'],
    ]);
    // `/3/0` is not `/3/01`: a path matches whole segments only.
    const none = selectResources(
      registration('coap://10.0.0.1', [{ href: '/3/0', attrs: {} }]),
      config({ observe: [{ path: '/3/01' }] }),
    );
    expect(none).toEqual([]);
  });

  it('never polls a sleepy device, but still observes it', () => {
    const targets = selectResources(
      registration('coap://10.0.0.1', links),
      config({ poll: [{ path: '/actuators/led', intervalSeconds: 5 }] }),
      true,
    );
    expect(targets.map((t) => [t.path, t.mode])).toEqual([
      ['/sensors/temp', 'observe'],
      ['/sensors/hum', 'observe'],
    ]);
  });

  it('selects nothing marked obs when observeMarked is off, and never a path the device did not register', () => {
    const targets = selectResources(
      registration('coap://10.0.0.1:5683', links),
      config({ observeMarked: false, poll: [{ path: '/not/registered', intervalSeconds: 1 }] }),
    );
    expect(targets).toEqual([]);
  });

  it('follows absolute hrefs and skips schemes the client does not speak', () => {
    const targets = selectResources(
      registration('coap://10.0.0.1', [
        { href: 'coap://10.0.0.2:6000/x', attrs: { obs: true } },
        { href: 'coaps://10.0.0.3/y', attrs: { obs: true } },
      ]),
      config(),
    );
    expect(targets.map((t) => [t.host, t.port, t.path])).toEqual([['10.0.0.2', 6000, '/x']]);
  });
});

describe('Limiter', () => {
  it('never runs more than its limit at once and runs everything', async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setImmediate(resolve));
          active--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('passes a freed slot over withdrawn turns to the oldest turn still waiting', async () => {
    const limiter = new Limiter(1);
    const releaseFirst = await limiter.acquire();
    const woken: number[] = [];
    const stale = Array.from({ length: 10_000 }, (_, i) => {
      const turn = limiter.turn();
      void turn.granted.then((release) => {
        woken.push(i);
        release();
      });
      return turn;
    });
    const live = limiter.turn();
    for (const turn of stale) turn.withdraw();
    releaseFirst();
    // Turns are granted in arrival order: had a withdrawn one been woken, it would have been before this one.
    const release = await live.granted;
    expect(woken).toEqual([]);
    release();
    // The slot is free again: the next turn is granted at once.
    await limiter.turn().granted;
  });
});
