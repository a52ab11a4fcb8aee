import { isUuid } from '../common/uuid';
import { LOCKS } from './locks';

const uuid = (value: string): string => {
  if (!isUuid(value)) throw new Error(`not a uuid: ${JSON.stringify(value)}`);
  return `'${value}'`;
};

const integer = (value: number | null): string => {
  if (value === null) return 'null';
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
};

/**
 * The statement that checks, under the placement lock, that the gears a transaction placed on `nodeIds` still fit them
 * and the team's quota (migration PlacementCheck): for UnitOfWork.runCheckedAtCommit, which sends it with the COMMIT
 * as one query. That takes no parameters, so the values are written into it, each checked for its shape first.
 */
export function placementHoldsCheck(nodeIds: string[], team: { id: string; maxGears: number | null; maxMemoryMb: number | null } | null): string {
  const nodes = nodeIds.length > 0 ? `array[${nodeIds.map(uuid).join(', ')}]::uuid[]` : `'{}'::uuid[]`;
  const who = team ? `${uuid(team.id)}::uuid, ${integer(team.maxGears)}, ${integer(team.maxMemoryMb)}` : 'null, null, null';
  return `select placement_holds(${LOCKS.placement}, ${nodes}, ${who})`;
}

/** Whether `err` is a placement check that no longer held: the change is placed again, under the lock from the start. */
export const isPlacementConflict = (err: unknown): boolean => {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === '40001' && /placement no longer holds/.test(e.message ?? '');
};
