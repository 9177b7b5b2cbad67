import type { Migration } from './sqlite.js';

/** The gateway's schema, one step per release; never edit a step that has shipped, append a new one. */
export const migrations: readonly Migration[] = [
  (db) =>
    db.exec(`
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        ep TEXT,
        d TEXT,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        status INTEGER NOT NULL DEFAULT 1,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX devices_endpoint ON devices (ifnull(d, ''), ep) WHERE ep IS NOT NULL;
      CREATE INDEX devices_address ON devices (host, port);

      CREATE TABLE registrations (
        device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        ep TEXT NOT NULL,
        d TEXT,
        base TEXT NOT NULL,
        base_explicit INTEGER NOT NULL,
        lt INTEGER NOT NULL,
        et TEXT,
        attrs TEXT NOT NULL,
        links TEXT NOT NULL,
        discovered INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );

      CREATE TABLE groups (
        id TEXT PRIMARY KEY,
        gp TEXT NOT NULL,
        d TEXT,
        base TEXT,
        attrs TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX groups_name ON groups (ifnull(d, ''), gp);
      CREATE TABLE group_members (
        group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        PRIMARY KEY (group_id, device_id)
      );

      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        device_id TEXT,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX outbox_kind ON outbox (kind, seq);

      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `),
  // Every read is served from the in-memory mirror; this index only cost a write per device move.
  (db) => db.exec('DROP INDEX devices_address'),
  // Queued commands for sleepy devices: seq is the delivery order, finished rows are kept for a while.
  (db) =>
    db.exec(`
      CREATE TABLE commands (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        device_id TEXT NOT NULL,
        request TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX commands_pending ON commands (device_id, seq) WHERE status IN ('queued', 'sent');
    `),
];
