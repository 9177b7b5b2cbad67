import type { Migration } from '../../src/store/index.js';

/** The hub's own schema (a file apart from any gateway's); append steps, never edit a shipped one. */
export const migrations: readonly Migration[] = [
  (db) =>
    db.exec(`
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        gateway TEXT NOT NULL,
        info TEXT NOT NULL,
        last_seen INTEGER NOT NULL
      );
      CREATE INDEX devices_gateway ON devices (gateway);

      CREATE TABLE gateways (
        id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_connected_at INTEGER
      );
    `),
  // The store a gateway's seq stream comes from (`hello.instance`).
  (db) => db.exec('ALTER TABLE gateways ADD COLUMN instance TEXT'),
  // The retained window of published events, for subscribers that resume (docs/api.md "Resuming").
  (db) =>
    db.exec(`
      CREATE TABLE events (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, message TEXT NOT NULL);
      CREATE TABLE hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `),
];
