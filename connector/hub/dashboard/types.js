// @ts-check
/**
 * The shapes the hub's API returns (docs/api.md), for the type checker only.
 *
 * @typedef {{ href: string, attrs: Record<string, string | true> }} Link
 * @typedef {{ base: string, lt: number, et: string | null, attrs: Record<string, string | true>, updatedAt: number, expiresAt: number }} RegistrationInfo
 * @typedef {{ id: string, ep: string | null, d: string | null, address: string, status: string, source: string,
 *   registered: boolean, lastSeen: number, resources: Link[], gateway: string, gatewayConnected: boolean,
 *   statusSince?: number | null, registration?: RegistrationInfo | null }} Device
 * @typedef {{ event: string, ts: number, status?: string }} HistoryEvent
 * @typedef {{ path: string, ct: number | null, value: unknown, encoding?: string, ts: number, points: Array<[number, number]> }} Series
 * @typedef {{ device: string, events: HistoryEvent[], telemetry: Series[] }} History
 * @typedef {{ id: string, connected: boolean, address: string | null, since: number | null, lastSeq: number,
 *   devices: number, received: number, duplicates: number }} Gateway
 * @typedef {{ url: string, delivered: number, failures: number, dropped: number, pending: number }} Webhook
 * @typedef {{ status: string, device: string, gateway: string, code: string, ct: number | null, payload: unknown, encoding?: string }} SendReply
 * @typedef {{ event: string, data: any, ts: number, from?: string }} HubEvent
 */
export {};
