import { describe, expect, it } from 'vitest';
import { intern } from '../../src/coap/intern.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';

describe('intern', () => {
  it('returns every string unchanged: ASCII, non-BMP, a lone surrogate, long ones, and beyond the table bound', () => {
    const samples = ['', '/sensors/temp', 'temperature', 'Grüße', '🌡️', 'a\ud800b', 'x'.repeat(128), 'y'.repeat(129)];
    for (let i = 0; i < 20_000; i++) samples.push(`/dev/${i}`);
    for (const value of samples) expect(intern(value)).toBe(value);
    for (const value of samples) expect(intern(`${value}`)).toBe(value);
  });

  it('leaves link-format parsing as it was, quoted values with escapes included', () => {
    const text = '</a>;rt="t\\"q";if=core.s,</b>;rt="t\\"q";obs';
    expect(parseLinkFormat(text)).toEqual([
      { href: '/a', attrs: { rt: 't"q', if: 'core.s' } },
      { href: '/b', attrs: { rt: 't"q', obs: true } },
    ]);
  });
});
