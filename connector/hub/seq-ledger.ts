import type { Db, WriteBatch } from '../../src/store/index.js';

/**
 * The last upstream `seq` the hub has taken from each gateway (docs/design.md "Wire contract" 2).
 * Persisted so duplicates resent after a hub restart are still recognised.
 */
export class SeqLedger {
  private readonly lastSeq = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private readonly saveStmt;
  private readonly connectedStmt;

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    for (const row of db.prepare('SELECT id, last_seq FROM gateways').all() as { id: string; last_seq: number }[]) {
      this.lastSeq.set(row.id, row.last_seq);
    }
    this.saveStmt = db.prepare(
      'INSERT INTO gateways (id, last_seq) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq',
    );
    this.connectedStmt = db.prepare(
      'INSERT INTO gateways (id, last_connected_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_connected_at = excluded.last_connected_at',
    );
  }

  get(gateway: string): number {
    return this.lastSeq.get(gateway) ?? 0;
  }

  /** Records `seq` as taken; false when it was taken before (a resend), which the caller drops. */
  take(gateway: string, seq: number): boolean {
    if (seq <= this.get(gateway)) return false;
    this.lastSeq.set(gateway, seq);
    this.dirty.add(gateway);
    return true;
  }

  connected(gateway: string, at: number): void {
    this.writes.write(() => this.connectedStmt.run(gateway, at));
  }

  /** Writes moved seqs into the open batch; the caller acks only once that batch is committed. */
  flush(): void {
    this.writes.write(() => {
      for (const gateway of this.dirty) this.saveStmt.run(gateway, this.get(gateway));
    });
    this.dirty.clear();
  }
}
