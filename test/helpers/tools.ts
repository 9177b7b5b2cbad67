import { spawnSync } from 'node:child_process';

const reported = new Set<string>();

/**
 * Why a test that needs the external program `command` cannot run here, or undefined when it can. The reason is
 * printed once per test file, so a skipped suite says why; `.ci/run` installs every such program, so CI never skips.
 */
export function missingTool(command: string, install: string): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0) return undefined;
  const reason = `${command} not found (${install}; .ci/run installs it)`;
  if (!reported.has(command)) {
    reported.add(command);
    console.warn(`skipping what needs ${reason}`);
  }
  return reason;
}

const LIBCOAP = 'apt-get install libcoap3-bin';

/** libcoap's `coap-server-notls`, an independent CoAP server for the client suites; undefined when present. */
export const libcoapServerMissing = (): string | undefined => missingTool('coap-server-notls', LIBCOAP);

/** libcoap's `coap-client-notls`, an independent CoAP client; undefined when present. */
export const libcoapClientMissing = (): string | undefined => missingTool('coap-client-notls', LIBCOAP);
