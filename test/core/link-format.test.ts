import { describe, expect, it } from 'vitest';
import { formatLinkFormat, LinkFormatError, parseLinkFormat } from '../../src/coap/link-format.js';

describe('RFC 6690 link format', () => {
  it('parses the RFC 6690 §5 example', () => {
    const links = parseLinkFormat(
      '</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux";if="sensor"',
    );
    expect(links).toEqual([
      { href: '/sensors/temp', attrs: { rt: 'temperature-c', if: 'sensor' } },
      { href: '/sensors/light', attrs: { rt: 'light-lux', if: 'sensor' } },
    ]);
  });

  it('keeps flags, ptoken values, anchors and escaped quotes', () => {
    const [link] = parseLinkFormat('<coap://[2001:db8::1]/t>;anchor="coap://x/";obs;ct=50;title="a \\"b\\""');
    expect(link).toEqual({
      href: 'coap://[2001:db8::1]/t',
      attrs: { anchor: 'coap://x/', obs: true, ct: '50', title: 'a "b"' },
    });
  });

  it('joins a repeated parameter like relation types', () => {
    expect(parseLinkFormat('</a>;rel=x;rel=y')[0]!.attrs.rel).toBe('x y');
  });

  it('tolerates line breaks between links and an empty document', () => {
    expect(parseLinkFormat('</a>,\n  </b>')).toHaveLength(2);
    expect(parseLinkFormat('')).toEqual([]);
  });

  it.each(['</a', 'a>', '</a>;', '</a>;x="y', '</a>,', '</a> </b>', '</a>;rt=', '</a b>'])('rejects %j', (text) => {
    expect(() => parseLinkFormat(text)).toThrow(LinkFormatError);
  });

  it('round-trips through its serialisation', () => {
    const text = '</sensors/temp>;rt="temperature";if="core.s";ct=50;obs,</big>;sz=4096';
    expect(formatLinkFormat(parseLinkFormat(text))).toBe(text);
  });
});
