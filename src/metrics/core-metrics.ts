import type { Command, CommandResult, Execute } from '../command.js';
import type { EventBus } from '../events.js';
import type { Store } from '../store/index.js';
import { Counter, Gauge, Histogram, mirroredCounter, secondsSince, type Registry } from './registry.js';

/** The statuses a device can have; each is a series of `coregate_devices` even at zero. */
const KNOWN_STATUSES = ['online', 'offline'];

/**
 * What the gateway's shared core knows, for /metrics: devices by status and the outbox (read from the store at
 * scrape time), registrations and liveness changes (counted off the bus), and commands (timed around the
 * Executer the connector calls). The components' own figures are registered by the components.
 */
export function registerCoreMetrics(registry: Registry, store: Store, bus: EventBus): void {
  new Gauge({
    name: 'coregate_devices',
    help: 'Known devices by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(KNOWN_STATUSES.map((status) => [status, 0]));
      for (const device of store.devices.list()) counts.set(device.status, (counts.get(device.status) ?? 0) + 1);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
  const registrations = new Counter({
    name: 'coregate_registrations_total',
    help: 'Registrations accepted (new, or replacing one of the same endpoint: RFC 9176 §5.3)',
    registers: [registry],
  });
  const updates = new Counter({
    name: 'coregate_registration_updates_total',
    help: 'Registration updates accepted (RFC 9176 §5.3.1)',
    registers: [registry],
  });
  const removals = new Counter({
    name: 'coregate_registration_removals_total',
    help: 'Registrations that ended, by reason: deleted (RFC 9176 §5.3.2), expired (lifetime ran out), replaced',
    labelNames: ['reason'],
    registers: [registry],
  });
  const statusChanges = new Counter({
    name: 'coregate_device_status_changes_total',
    help: 'Devices going online or offline, by the status they went to',
    labelNames: ['status'],
    registers: [registry],
  });
  for (const reason of ['deleted', 'expired', 'replaced']) removals.inc({ reason }, 0);
  for (const status of KNOWN_STATUSES) statusChanges.inc({ status }, 0);
  bus.on('device.registered', () => registrations.inc());
  bus.on('device.updated', () => updates.inc());
  bus.on('device.removed', ({ reason }) => removals.inc({ reason }));
  bus.on('device.online', () => statusChanges.inc({ status: 'online' }));
  bus.on('device.offline', () => statusChanges.inc({ status: 'offline' }));

  new Gauge({
    name: 'coregate_outbox_entries',
    help: 'Upstream events and telemetry values not yet acknowledged by the platform',
    registers: [registry],
    collect() {
      this.set(store.outbox.count());
    },
  });
  new Gauge({
    name: 'coregate_outbox_oldest_age_seconds',
    help: 'Age of the oldest unacknowledged outbox entry (0 when the outbox is empty)',
    registers: [registry],
    collect() {
      const oldest = store.outbox.unacked(0, 1)[0];
      this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest.createdAt) / 1000));
    },
  });
  mirroredCounter(
    registry,
    {
      name: 'coregate_outbox_dropped_telemetry_total',
      help: 'Telemetry values dropped from a full outbox (platform.outboxMax) before the platform took them',
    },
    () => store.outbox.dropped(),
  );
}

/** How a command ended, as the `result` label: the device's reply class, or the gateway's error code. */
function resultOf(result: CommandResult): string {
  if (!result.ok) return result.error.code;
  return result.code.startsWith('2.') ? 'success' : 'error_response';
}

const COMMAND_RESULTS = ['success', 'error_response', 'unknown_device', 'device_offline', 'timeout', 'bad_request'];

/**
 * Times every command from the platform, from its arrival to its result:
 * `coregate_commands_total{result}` and `coregate_command_duration_seconds{result}`.
 */
export function timedCommands(registry: Registry, execute: Execute): Execute {
  const commands = new Counter({
    name: 'coregate_commands_total',
    help: 'Commands run for the platform, by result: success (2.xx), error_response (4.xx/5.xx) or the error code',
    labelNames: ['result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'coregate_command_duration_seconds',
    help: 'Time from a command reaching the Executer to its result, by result',
    labelNames: ['result'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  for (const result of COMMAND_RESULTS) commands.inc({ result }, 0);
  return async (command: Command) => {
    const started = performance.now();
    const result = await execute(command);
    const label = resultOf(result);
    commands.inc({ result: label });
    duration.observe({ result: label }, secondsSince(started));
    return result;
  };
}
