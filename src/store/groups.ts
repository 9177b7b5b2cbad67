import type { Db } from './sqlite.js';
import type { WriteBatch } from './write-batch.js';
import type { Attrs } from '../coap/link-format.js';
import type { Group } from './types.js';

interface GroupRow {
  id: string;
  gp: string;
  d: string | null;
  base: string | null;
  attrs: string;
  created_at: number;
}

/** Groups of draft-ietf-core-resource-directory-11, with their member devices in order. */
export class GroupRepository {
  private readonly byId = new Map<string, Group>();
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly clearMembersStmt;
  private readonly addMemberStmt;

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    const members = db.prepare('SELECT device_id FROM group_members WHERE group_id = ? ORDER BY position').pluck();
    for (const row of db.prepare('SELECT * FROM groups ORDER BY created_at').all() as GroupRow[]) {
      this.byId.set(row.id, {
        id: row.id,
        gp: row.gp,
        d: row.d,
        base: row.base,
        attrs: JSON.parse(row.attrs) as Attrs,
        members: members.all(row.id) as string[],
        createdAt: row.created_at,
      });
    }
    this.upsertStmt = db.prepare(`
      INSERT INTO groups (id, gp, d, base, attrs, created_at) VALUES (@id, @gp, @d, @base, @attrs, @createdAt)
      ON CONFLICT (id) DO UPDATE SET gp = excluded.gp, d = excluded.d, base = excluded.base, attrs = excluded.attrs`);
    this.deleteStmt = db.prepare('DELETE FROM groups WHERE id = ?');
    this.clearMembersStmt = db.prepare('DELETE FROM group_members WHERE group_id = ?');
    this.addMemberStmt = db.prepare('INSERT INTO group_members (group_id, device_id, position) VALUES (?, ?, ?)');
  }

  get(id: string): Group | undefined {
    return this.byId.get(id);
  }

  findByName(d: string | null, gp: string): Group | undefined {
    for (const group of this.byId.values()) if (group.gp === gp && group.d === d) return group;
    return undefined;
  }

  list(): Group[] {
    return [...this.byId.values()];
  }

  /** Creates or replaces a group and its member list, all or nothing. */
  put(group: Group): void {
    this.writes.write(() => {
      this.upsertStmt.run({ ...group, attrs: JSON.stringify(group.attrs) });
      this.clearMembersStmt.run(group.id);
      group.members.forEach((deviceId, position) => this.addMemberStmt.run(group.id, deviceId, position));
    });
    this.byId.set(group.id, group);
  }

  remove(id: string): boolean {
    this.writes.write(() => this.deleteStmt.run(id));
    return this.byId.delete(id);
  }

  /** Mirrors the cascade SQLite applies when a device row goes. */
  forgetDevice(deviceId: string): void {
    for (const group of this.byId.values()) {
      if (group.members.includes(deviceId)) {
        this.byId.set(group.id, { ...group, members: group.members.filter((m) => m !== deviceId) });
      }
    }
  }
}
