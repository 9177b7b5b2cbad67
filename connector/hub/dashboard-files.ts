import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Where the dashboard's files are: `connector/hub/dashboard/` in the package, found by walking up from this module
 * (it runs from `dist/connector/hub/` when built, from the source folder under vitest). The files are plain ES
 * modules, served as they are, with no build step.
 */
function dashboardFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('the dashboard files were not found (no package.json above the hub)');
    dir = parent;
  }
  return path.join(dir, 'connector', 'hub', 'dashboard');
}

/** uPlot's browser build and its stylesheet, straight from node_modules (https://github.com/leeoniya/uPlot). */
function uplotFolder(): string {
  return path.dirname(createRequire(import.meta.url).resolve('uplot'));
}

function load(file: string): StaticFile {
  const body = fs.readFileSync(file);
  return {
    body,
    type: TYPES[path.extname(file)] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

/**
 * The dashboard's static files, read once at start into memory (a few tens of KB): no file system access per
 * request and no path ever joined from a URL. They carry no secret; the page asks for the API key and uses the same
 * API a platform would. `/` is the page itself.
 */
export class DashboardFiles {
  private readonly files = new Map<string, StaticFile>();

  constructor() {
    const folder = dashboardFolder();
    for (const name of fs.readdirSync(folder)) {
      if (TYPES[path.extname(name)] === undefined) continue;
      this.files.set(`/dashboard/${name}`, load(path.join(folder, name)));
    }
    const index = this.files.get('/dashboard/index.html');
    if (index === undefined) throw new Error(`${folder}/index.html is missing`);
    this.files.set('/', index);
    const uplot = uplotFolder();
    this.files.set('/vendor/uplot/uPlot.esm.js', load(path.join(uplot, 'uPlot.esm.js')));
    this.files.set('/vendor/uplot/uPlot.min.css', load(path.join(uplot, 'uPlot.min.css')));
  }

  /** Serves a GET or HEAD of a known file; false for anything else. */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const file = this.files.get(url.pathname);
    if (file === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const headers = {
      'content-type': file.type,
      etag: file.etag,
      // Revalidated on every load, so a new hub version is never hidden behind a stale module.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...(url.pathname === '/' && {
        // The page loads only its own files and talks only to this hub (its API and its WebSocket).
        'content-security-policy':
          "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        'referrer-policy': 'no-referrer',
      }),
    };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }
}
