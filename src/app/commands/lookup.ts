import type { Command } from 'commander';
import { Directory, locationOf, Lookup, parseLookupQuery, resolveLink, type LookupQuery } from '../../../rd/index.js';
import { CoapError } from '../../coap/types.js';
import { EventBus } from '../../events.js';
import { silentLogger } from '../../log.js';
import type { Attrs } from '../../coap/link-format.js';
import { withStore } from './directory-store.js';
import { configFrom, withConfigOption } from './options.js';
import { formatTable } from './table.js';

interface LookupOptions {
  config?: string;
  filter: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const text = (value: Attrs[string] | null | undefined): string =>
  value === undefined || value === null ? '' : value === true ? '(set)' : value;

/** `coregate lookup ep|res`: the RD's lookup interfaces (RFC 9176 §6) over the gateway's database. */
export function register(program: Command): void {
  const command = withConfigOption(program.command('lookup'))
    .description('look up registered endpoints (ep) or resources (res), as /rd-lookup does')
    .argument('<type>', 'ep or res')
    .option(
      '--filter <name=value>',
      'attribute filter, repeatable, ANDed; trailing * matches a prefix; page/count page',
      collect,
      [],
    )
    .option('--json', 'print JSON for scripts')
    .action(async (type: string, options: LookupOptions) => {
      if (type !== 'ep' && type !== 'res') command.error(`coregate lookup: type must be ep or res, not '${type}'`);
      let query: LookupQuery;
      try {
        query = parseLookupQuery(options.filter);
      } catch (err) {
        if (!(err instanceof CoapError)) throw err;
        command.error(`coregate lookup: ${err.message}`);
      }
      const config = configFrom(options);
      const output = await withStore(config.db, async (store) => {
        const lookup = new Lookup(new Directory(store, new EventBus(), silentLogger(), config.rd), store);
        return type === 'ep' ? endpoints(lookup, query, options.json) : resources(lookup, query, options.json);
      });
      process.stdout.write(output);
    });
}

async function endpoints(lookup: Lookup, query: LookupQuery, json: boolean | undefined): Promise<string> {
  const found = (await lookup.findEndpoints(query)).map((reg) => ({
    location: locationOf(reg),
    ep: reg.ep,
    d: reg.d,
    base: reg.base,
    et: reg.et,
    lt: reg.lt,
    expiresAt: new Date(reg.expiresAt).toISOString(),
    attrs: reg.attrs,
    links: reg.links.length,
  }));
  if (json) return JSON.stringify(found, null, 2) + '\n';
  return formatTable(
    ['LOCATION', 'EP', 'D', 'BASE', 'ET', 'LINKS', 'ATTRIBUTES'],
    found.map((e) => [e.location, e.ep, text(e.d), e.base, text(e.et), String(e.links), attributeList(e.attrs)]),
  );
}

async function resources(lookup: Lookup, query: LookupQuery, json: boolean | undefined): Promise<string> {
  const found = (await lookup.findResources(query)).map(({ reg, link }) => {
    const { anchor: _anchor, ...attrs } = link.attrs;
    const resolved = resolveLink(reg, link);
    return { href: resolved.href, anchor: resolved.anchor, ep: reg.ep, location: locationOf(reg), attrs };
  });
  if (json) return JSON.stringify(found, null, 2) + '\n';
  return formatTable(
    ['HREF', 'EP', 'RT', 'IF', 'CT', 'ATTRIBUTES'],
    found.map((r) => {
      const { rt, if: iface, ct, ...rest } = r.attrs;
      return [r.href, r.ep, text(rt), text(iface), text(ct), attributeList(rest)];
    }),
  );
}

function attributeList(attrs: Attrs): string {
  return Object.entries(attrs)
    .map(([name, value]) => (value === true ? name : `${name}=${value}`))
    .join(' ');
}
