import type { ServerResponse } from 'node:http';
import type { CommandFrame } from '../protocol/index.js';
import { isPending, type CommandRecord, type CommandRecords } from './command-records.js';
import type { DeviceRegistry } from './device-registry.js';
import type { GatewaySessions } from './gateway-sessions.js';
import { HttpError, sendJson } from './http-io.js';

export interface QueuedCommandsApiDeps {
  registry: DeviceRegistry;
  sessions: GatewaySessions;
  records: CommandRecords;
  /** How long the hub waits for the gateway to confirm it queued (or cancelled) a command. */
  confirmTimeoutMs: number;
}

/**
 * The queued-command half of the HTTP API (docs/api.md "Queued commands"): the gateway keeps the queue in its
 * store and reports every move as `command_status`; the hub answers from its copy of the latest status.
 */
export class QueuedCommandsApi {
  constructor(private readonly deps: QueuedCommandsApiDeps) {}

  /** `POST /v1/devices/:id/send` with `"queue": true`: 202 once the gateway holds the command in its store. */
  async send(res: ServerResponse, gateway: string, frame: CommandFrame): Promise<void> {
    const outcome = await this.deps.sessions.command(gateway, frame, this.deps.confirmTimeoutMs);
    if (!outcome.ok) throw outcome.error;
    if (!('status' in outcome)) throw new HttpError(502, 'gateway_error', 'the gateway ran a queued command at once');
    sendJson(res, 202, this.deps.records.get(frame.id) ?? { id: frame.id, status: outcome.status.status });
  }

  /** `GET /v1/commands/:id`. */
  get(res: ServerResponse, id: string): void {
    sendJson(res, 200, this.record(id));
  }

  /** `GET /v1/devices/:id/commands[?all=1]`: what is pending (queued or sent), or every command the hub holds. */
  list(res: ServerResponse, device: string, url: URL): void {
    if (this.deps.registry.get(device) === undefined) {
      throw new HttpError(404, 'unknown_device', `no device ${JSON.stringify(device)} on any gateway`);
    }
    const all = ['1', 'true'].includes(url.searchParams.get('all') ?? '');
    sendJson(res, 200, { commands: this.deps.records.forDevice(device, all) });
  }

  /** `DELETE /v1/commands/:id`: cancels a command still queued; 409 once it was sent or finished. */
  async cancel(res: ServerResponse, id: string): Promise<void> {
    const record = this.record(id);
    if (isPending(record)) {
      const outcome = await this.deps.sessions.command(
        record.gateway,
        { type: 'cancel', id },
        this.deps.confirmTimeoutMs,
      );
      if (!outcome.ok) throw outcome.error;
    }
    const now = this.record(id);
    if (now.status !== 'cancelled') {
      throw new HttpError(
        409,
        'not_cancellable',
        `command ${id} is ${now.status}; only a queued command can be cancelled`,
      );
    }
    sendJson(res, 200, now);
  }

  private record(id: string): CommandRecord {
    const record = this.deps.records.get(id);
    if (record === undefined) throw new HttpError(404, 'unknown_command', `no queued command ${JSON.stringify(id)}`);
    return record;
  }
}
