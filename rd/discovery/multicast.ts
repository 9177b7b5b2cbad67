import type { CoapClientApi } from '../../src/coap/types.js';
import type { Logger } from '../../src/log.js';
import type { Link } from '../../src/coap/link-format.js';
import { groupInterfaces } from './interfaces.js';
import { thingLinks } from './links.js';

export interface Discovered {
  host: string;
  port: number;
  links: Link[];
}

export interface MulticastDiscoveryOptions {
  client: Pick<CoapClientApi, 'multicast'>;
  log: Logger;
  /** All-CoAP-Nodes groups (RFC 7252 §12.8): 224.0.1.187, ff02::fd. */
  groups: string[];
  /** Interface addresses or names; empty = the system's default interface. */
  interfaces: string[];
  waitMs: number;
  /** Where the groups are addressed; 5683 but for tests. */
  port: number;
}

/** Errors that mean "this machine or interface does not do multicast", not a bug. */
const UNAVAILABLE = new Set(['EPERM', 'EACCES', 'ENETUNREACH', 'ENODEV', 'EADDRNOTAVAIL', 'EINVAL', 'EHOSTUNREACH']);

/** The errno name of a socket error, whether raised as is or wrapped into a message by the client. */
function errorCode(err: unknown): string | undefined {
  for (let cause = err as { code?: unknown; cause?: unknown } | undefined; cause; cause = cause.cause as typeof cause) {
    if (typeof cause.code === 'string') return cause.code;
  }
  return /\b(E[A-Z]{3,})\b/.exec(String((err as Error | undefined)?.message))?.[1];
}

/**
 * One round of RFC 7252 §8.2 multicast discovery: a NON `GET /.well-known/core` to every group on
 * every configured interface, collecting answers until `waitMs` (servers wait a random Leisure
 * before answering, §8.2.1). Where multicast is not possible it warns once and discovers nothing.
 */
export class MulticastDiscovery {
  private readonly warned = new Set<string>();

  constructor(private readonly options: MulticastDiscoveryOptions) {}

  async round(): Promise<Discovered[]> {
    const { client, log, groups, interfaces, waitMs, port } = this.options;
    const found = new Map<string, Discovered>();
    const failures: string[] = [];
    await Promise.all(
      groupInterfaces(groups, interfaces).map(async ({ group, interface: iface }) => {
        try {
          await client.multicast(
            {
              host: group,
              port,
              method: 'GET',
              path: '/.well-known/core',
              confirmable: false,
              waitMs,
              interface: iface,
            },
            (reply) => {
              const key = `${reply.source.address}|${reply.source.port}`;
              if (found.has(key)) return;
              const links = thingLinks(reply);
              if (links) found.set(key, { host: reply.source.address, port: reply.source.port, links });
            },
          );
        } catch (err) {
          const where = `${group} via ${iface ?? 'the default interface'}`;
          if (!UNAVAILABLE.has(errorCode(err) ?? '')) {
            log.error({ err, group, iface }, 'multicast discovery failed');
          } else if (!this.warned.has(where)) {
            this.warned.add(where);
            failures.push(`${where}: ${errorCode(err)}`);
          }
        }
      }),
    );
    if (failures.length > 0) {
      log.warn(
        { unavailable: failures },
        'CoAP multicast discovery is not possible on this machine for some groups/interfaces ' +
          '(set discovery.interfaces / COREGATE_DISCOVERY_INTERFACES, or COREGATE_DISCOVERY=off); the gateway runs on without it',
      );
    }
    return [...found.values()];
  }
}
