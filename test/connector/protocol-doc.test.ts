import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { gatewayFrameTypes, hubFrameTypes, parseGatewayFrame, parseHubFrame } from '../../connector/protocol/index.js';
import { ROOT } from '../helpers/cli.js';

interface Example {
  line: number;
  direction: 'hub' | 'gateway' | undefined;
  /** The frame type the section documents (its `###` heading). */
  section: string | undefined;
  json: string;
}

/** Every ```json block of docs/protocol.md, with the `## Hub → gateway` / `### <type>` headings above it. */
function examples(markdown: string): Example[] {
  const found: Example[] = [];
  let direction: Example['direction'];
  let section: string | undefined;
  let block: { line: number; lines: string[] } | undefined;
  markdown.split('\n').forEach((text, index) => {
    if (block !== undefined) {
      if (text.startsWith('```')) {
        found.push({ line: block.line, direction, section, json: block.lines.join('\n') });
        block = undefined;
      } else block.lines.push(text);
      return;
    }
    if (text.startsWith('```json')) block = { line: index + 1, lines: [] };
    else if (text.startsWith('## ')) {
      direction = text.includes('Hub → gateway') ? 'hub' : text.includes('Gateway → hub') ? 'gateway' : undefined;
      section = undefined;
    } else if (text.startsWith('### ')) section = text.slice(4).trim();
  });
  return found;
}

// The WebSocket frames; the `# MQTT` part after them is checked by test/mqtt/protocol-doc.test.ts.
const doc = fs.readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8').split('\n# MQTT\n')[0]!;
const all = examples(doc);

describe('docs/protocol.md', () => {
  test('has examples, and every one sits under a frame section of one direction', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const example of all) {
      expect(example.direction, `json block at line ${example.line} is outside the frame sections`).toBeDefined();
    }
  });

  test('documents every frame type of both directions', () => {
    const documented = (direction: 'hub' | 'gateway') =>
      new Set(all.filter((e) => e.direction === direction).map((e) => e.section));
    expect([...documented('hub')].sort()).toEqual([...hubFrameTypes].sort());
    expect([...documented('gateway')].sort()).toEqual([...gatewayFrameTypes].sort());
  });

  test.each(all.map((e) => [`line ${e.line} (${e.direction} ${e.section})`, e] as const))(
    'example at %s is a valid frame of the type it documents',
    (_name, example) => {
      const parsed = example.direction === 'hub' ? parseHubFrame(example.json) : parseGatewayFrame(example.json);
      expect(parsed.ok ? parsed.frame.type : parsed.error).toBe(example.section);
    },
  );
});
