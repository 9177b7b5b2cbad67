import { BlockList, isIPv4 } from 'node:net';
import { CoapError, type Peer } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';

/** RFC 7252 §5.9.3.4: Max-Age on 5.03 says when to retry; a rate window is one second. */
const RATE_RETRY_SECONDS = 1;

/**
 * The RD's admission rules (docs/design.md "Limits"): source networks allowed to change the directory (4.03),
 * and requests per second per source address (5.03 with Max-Age; 0 = off, since many devices can sit
 * behind one address). The registration count and link count limits live where the counting happens
 * (Directory, readLinks). Each refusal logs one line; nothing is stored.
 */
export class Limits {
  private readonly allowed = new BlockList();
  /** The default list admits everyone: then no address needs parsing. */
  private readonly allowAll: boolean;
  private readonly perSecond: number;
  private readonly counts = new Map<string, number>();
  private windowEnd = 0;

  constructor(
    config: RdConfig['limits'],
    private readonly log: Logger,
  ) {
    for (const cidr of config.allowedNetworks) {
      const [network = '', bits] = cidr.split('/');
      const family = isIPv4(network) ? 'ipv4' : 'ipv6';
      try {
        this.allowed.addSubnet(network, bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits), family);
      } catch {
        throw new Error(`rd.limits.allowedNetworks: '${cidr}' is not a CIDR network`);
      }
    }
    this.allowAll = config.allowedNetworks.includes('0.0.0.0/0') && config.allowedNetworks.includes('::/0');
    this.perSecond = config.requestsPerSecondPerSource;
  }

  /** For the server's admit hook: runs before any parsing, on every request. */
  admit = (peer: Peer): CoapError | undefined => {
    if (this.perSecond <= 0) return undefined;
    const now = Date.now();
    // A fixed one-second window for all sources: the map holds at most one second of addresses.
    if (now >= this.windowEnd) {
      this.counts.clear();
      this.windowEnd = now + 1000;
    }
    const count = (this.counts.get(peer.address) ?? 0) + 1;
    this.counts.set(peer.address, count);
    if (count <= this.perSecond) return undefined;
    if (count === this.perSecond + 1) this.log.warn({ source: peer.address }, 'rate limit reached');
    return new CoapError('5.03', 'rate limit', RATE_RETRY_SECONDS);
  };

  /** Registration, update, removal and group changes come only from allowed networks. */
  mayChange(peer: Peer): void {
    if (this.allowAll) return;
    const family = isIPv4(peer.address) ? 'ipv4' : 'ipv6';
    if (this.allowed.check(peer.address, family)) return;
    this.log.warn({ source: peer.address }, 'change refused: source network not allowed');
    throw new CoapError('4.03', 'source not allowed');
  }
}
