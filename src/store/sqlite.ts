import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

const WAL_CHECKPOINT_FRAMES = 10_000;

/** One schema step. `user_version` records how many have been applied. */
export type Migration = (db: Db) => void;

/**
 * Opens (creating folders as needed) an SQLite file in WAL mode and applies the migrations
 * it has not seen yet, each in its own transaction, so a crash mid-upgrade leaves a valid version.
 */
export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A checkpoint copies the WAL's pages into the database and fsyncs it, stalling the writer meanwhile. At the
  // default of 1000 frames, registrations at thousands per second paid for several a second, copying the same
  // hot pages over and over; at 10,000 (a WAL of up to ~40 MB) they come ~10x less often and copy each page once.
  db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_FRAMES}`);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    db.close();
    throw new Error(
      `${file} has schema version ${current}, newer than this coregate knows (${migrations.length}); upgrade coregate or use another database file`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      migrations[version]!(db);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return db;
}
