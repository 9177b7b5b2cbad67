import { LeanFleet } from '../../src/thing/index.js';

/**
 * One process of the fleet bench's devices: `LeanFleet` over IPC. Arguments: count, first index, bind address,
 * RD port. Messages in: `{ rate }` values per second this process produces (0 stops), `stats`, `stop`.
 * `register` starts the registrations. Out: `ready` once every socket is bound, then the stats on request.
 */

const [count, first, host, rdPort] = process.argv.slice(2);
const fleet = new LeanFleet({
  count: Number(count),
  firstIndex: Number(first),
  namePrefix: 'fleet',
  host: host!,
  rd: { host: '127.0.0.1', port: Number(rdPort) },
  lifetime: 3600,
  window: 16,
});

let pacer: NodeJS.Timeout | undefined;
function produceAt(perSecond: number): void {
  clearInterval(pacer);
  if (perSecond <= 0) return;
  const started = performance.now();
  let due = 0;
  pacer = setInterval(() => {
    const owed = Math.floor(((performance.now() - started) / 1000) * perSecond) - due;
    due += owed;
    fleet.produce(owed);
  }, 5);
}

process.on('message', (message: { rate?: number } | string) => {
  if (message === 'stats') process.send?.({ stats: fleet.stats() });
  else if (message === 'register') fleet.register();
  else if (message === 'stop') {
    clearInterval(pacer);
    void fleet.stop().then(() => process.disconnect());
  } else if (typeof message === 'object' && message.rate !== undefined) produceAt(message.rate);
});
process.on('disconnect', () => process.exit(0));
await fleet.listen();
process.send?.('ready');
