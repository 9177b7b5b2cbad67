import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

/** The import boundaries of docs/architecture.md, as `npm run check` (eslint) enforces them. */
const eslint = new ESLint({ cwd: ROOT });

async function problems(filePath: string, specifier: string): Promise<string[]> {
  const [result] = await eslint.lintText(`import '${specifier}';\n`, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries', () => {
  it.each([
    ['rd/directory.ts', '../pinger/index.js', 'a component importing another'],
    ['observer/observer.ts', '../connector/index.js', 'a component importing the connector'],
    ['connector/connector.ts', '../rd/index.js', 'the connector importing a component'],
    ['connector/connector.ts', './hub/index.js', 'the connector importing the hub'],
    ['connector/hub/hub.ts', '../upstream.js', 'the hub reaching into the connector'],
    ['connector/hub/hub.ts', '../protocol/frames.js', 'the hub bypassing the protocol surface'],
    ['src/store/index.ts', '../app/gateway.js', 'the core importing the program'],
    ['src/coap/server.ts', '../../rd/index.js', 'the core importing a component'],
    ['rd/directory.ts', '../src/app/gateway.js', 'a component importing the program'],
    ['src/app/gateway.ts', '../../rd/directory.js', 'the program bypassing a public surface'],
  ])('refuses %s importing %s (%s)', async (file, specifier) => {
    expect(await problems(file, specifier)).toHaveLength(1);
  });

  it.each([
    ['rd/directory.ts', '../src/store/index.js'],
    ['connector/hub/hub.ts', '../protocol/index.js'],
    ['connector/hub/hub.ts', '../../src/store/index.js'],
    ['src/app/gateway.ts', '../../rd/index.js'],
    ['src/app/gateway.ts', '../../connector/hub/index.js'],
    ['src/store/index.ts', '../coap/link-format.js'],
  ])('allows %s importing %s', async (file, specifier) => {
    expect(await problems(file, specifier)).toEqual([]);
  });
});
