import type { Db, WriteBatch } from '../../src/store/index.js';

/**
 * The last upstream `seq` the hub has taken from each gateway (docs/design.md "Wire contract" 2).
 * Persisted so duplicates resent after a hub restart are still recognised.
 */
export class SeqLedger {
  private readonly lastSeq = new Map<string, number>();
  private readonly instances = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private readonly saveStmt;
  private readonly connectedStmt;
  private readonly instanceStmt;

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    const rows = db.prepare('SELECT id, last_seq, instance FROM gateways').all() as {
      id: string;
      last_seq: number;
      instance: string | null;
    }[];
    for (const row of rows) {
      this.lastSeq.set(row.id, row.last_seq);
      if (row.instance !== null) this.instances.set(row.id, row.instance);
    }
    this.instanceStmt = db.prepare(
      'INSERT INTO gateways (id, last_seq, instance) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, instance = excluded.instance',
    );
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

  /**
   * Records the store the gateway's seqs come from; true when it differs from the one recorded, and then the
   * gateway's last seq starts again from 0. Unknown (a gateway without `hello.instance`) changes nothing.
   */
  switchInstance(gateway: string, instance: string | undefined): boolean {
    if (instance === undefined || this.instances.get(gateway) === instance) return false;
    const known = this.instances.has(gateway);
    this.instances.set(gateway, instance);
    if (known) this.lastSeq.set(gateway, 0);
    this.dirty.delete(gateway);
    this.writes.write(() => this.instanceStmt.run(gateway, this.get(gateway), instance));
    return known;
  }

  connected(gateway: string, at: number): void {
    this.writes.write(() => this.connectedStmt.run(gateway, at));
  }

  /** Writes moved seqs into the open batch; the caller acks only once that batch is committed. */
  flush(): void {
    if (this.dirty.size === 0) return;
    this.writes.write(() => {
      for (const gateway of this.dirty) this.saveStmt.run(gateway, this.get(gateway));
    });
    this.dirty.clear();
  }
}
