import type { Statement } from 'better-sqlite3';
import type { Db } from './sqlite.js';

/**
 * `UPDATE <table> SET <only the columns that changed> WHERE <key> = ?`, prepared once per set of columns.
 * SQLite touches an index only when a column it covers is assigned, and a lifetime refresh or a status change
 * then binds two values instead of a whole row (links as JSON included).
 */
export class ColumnUpdate {
  private readonly statements = new Map<string, Statement>();

  constructor(
    private readonly db: Db,
    private readonly table: string,
    private readonly key: string,
  ) {}

  /** `changed` maps column names (trusted, from code) to their new values; nothing is written when it is empty. */
  run(keyValue: string, changed: Record<string, unknown>): void {
    const columns = Object.keys(changed);
    if (columns.length === 0) return;
    const signature = columns.join(',');
    let statement = this.statements.get(signature);
    if (!statement) {
      const assignments = columns.map((column) => `${column} = @${column}`).join(', ');
      statement = this.db.prepare(`UPDATE ${this.table} SET ${assignments} WHERE ${this.key} = @key_`);
      this.statements.set(signature, statement);
    }
    statement.run({ ...changed, key_: keyValue });
  }
}
