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
/**
 * mkdir -p, one level at a time. Node's recursive mkdirSync spins forever at 100% CPU under /proc: procfs
 * answers ENOENT for a child it cannot hold, which Node reads as "parent missing", makes the (existing) parent
 * and tries again. Here an ENOENT once the parent exists is final.
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; !fs.existsSync(at); at = path.dirname(at)) missing.unshift(at);
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  if (file !== ':memory:') makeDirectory(path.dirname(path.resolve(file)));
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
