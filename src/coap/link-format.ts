import { intern } from './intern.js';

/** Attribute values of a link or a registration: `obs` has no value, `rt="a b"` keeps its string. */
export type AttrValue = string | true;
export type Attrs = Record<string, AttrValue>;

/** One RFC 6690 link: the target as written by the registrant, and its attributes (incl. anchor, rel). */
export interface Link {
  href: string;
  attrs: Attrs;
}

/** A link-format document that does not follow RFC 6690 §2; the message says where. */
export class LinkFormatError extends Error {
  override name = 'LinkFormatError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
  }
}

const PARMNAME = /[A-Za-z0-9!#$&+\-.^_`|~*]/;
// ptoken characters (RFC 6690 §2): anything printable but separators that end a parameter.
const PTOKEN = /[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]/;

/**
 * Parses an RFC 6690 link-format document. Whitespace between links (which many devices send
 * after commas or as line breaks) is tolerated; everything else must follow the grammar.
 * A parameter repeated within one link (e.g. two `rel`) is joined with a space, as relation types are.
 */
export function parseLinkFormat(text: string): Link[] {
  const links: Link[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skipSpace();
  if (i === text.length) return links;
  for (;;) {
    skipSpace();
    if (text[i] !== '<') throw new LinkFormatError("expected '<'", i);
    const end = text.indexOf('>', i + 1);
    if (end < 0) throw new LinkFormatError("unterminated '<'", i);
    const href = intern(text.slice(i + 1, end));
    if (/[\s<"]/.test(href)) throw new LinkFormatError('invalid character in URI reference', i + 1);
    i = end + 1;
    const attrs: Attrs = {};
    while (text[i] === ';') {
      i++;
      const nameStart = i;
      while (i < text.length && PARMNAME.test(text[i]!)) i++;
      if (i === nameStart) throw new LinkFormatError('expected parameter name', i);
      const name = intern(text.slice(nameStart, i));
      let value: string | true = true;
      if (text[i] === '=') {
        i++;
        if (text[i] === '"') {
          let out = '';
          i++;
          while (i < text.length && text[i] !== '"') {
            if (text[i] === '\\' && i + 1 < text.length) i++;
            out += text[i];
            i++;
          }
          if (text[i] !== '"') throw new LinkFormatError('unterminated quoted string', i);
          i++;
          value = intern(out);
        } else {
          const valueStart = i;
          while (i < text.length && PTOKEN.test(text[i]!) && text[i] !== ';' && text[i] !== ',') i++;
          if (i === valueStart) throw new LinkFormatError(`empty value for '${name}'`, i);
          value = intern(text.slice(valueStart, i));
        }
      }
      const previous = attrs[name];
      attrs[name] = typeof previous === 'string' && typeof value === 'string' ? `${previous} ${value}` : value;
    }
    links.push({ href, attrs });
    skipSpace();
    if (i === text.length) return links;
    if (text[i] !== ',') throw new LinkFormatError("expected ',' or ';'", i);
    i++;
  }
}

function quote(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

// Attributes RFC 6690 §2 defines as ptoken-valued where a quoted form would confuse old parsers.
const BARE = new Set(['ct', 'sz', 'obs', 'hreflang', 'lt']);

/** Serialises links in RFC 6690 form; values are quoted except the numeric and flag attributes. */
export function formatLinkFormat(links: readonly Link[]): string {
  return links.map(formatLink).join(',');
}

export function formatLink(link: Link): string {
  let out = `<${link.href}>`;
  for (const [name, value] of Object.entries(link.attrs)) {
    if (value === true) out += `;${name}`;
    else if (BARE.has(name) && /^[0-9A-Za-z.-]+$/.test(value)) out += `;${name}=${value}`;
    else out += `;${name}=${quote(value)}`;
  }
  return out;
}
