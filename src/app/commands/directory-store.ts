import fs from 'node:fs';
import { Store } from '../../store/index.js';

/**
 * Opens the database `start` writes, for a command that only reads it: a missing file is an error
 * (not a fresh empty database), and the store is closed whatever `use` does.
 */
export async function withStore<T>(file: string, use: (store: Store) => T | Promise<T>): Promise<T> {
  if (file !== ':memory:' && !fs.existsSync(file)) {
    throw new Error(`no database at ${file} (has the gateway run? see db / COREGATE_DB)`);
  }
  const store = new Store({ file });
  try {
    return await use(store);
  } finally {
    store.close();
  }
}
