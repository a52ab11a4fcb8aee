import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

/**
 * The broker's rooms (its top-level folders and files) from the ground up. A room may import only rooms on lower
 * floors; a lower room that needs an answer from a higher one declares an abstract class that seams.module.ts binds.
 * A new room takes a floor here, above everything it imports.
 */
const FLOORS: string[][] = [
  ['config'],
  ['common', 'queue', 'leadership'],
  ['database', 'users', 'metrics'],
  ['audit'],
  ['teams'],
  ['cartridges', 'domains'],
  ['apps', 'core.module'],
  ['fleet'],
  ['routes', 'seams.module'],
  ['operations'],
  ['changes', 'nodes'],
  ['health', 'lifecycle', 'snapshots'],
  ['upgrades'],
  ['apply', 'cron', 'deployments', 'recovery', 'scaling'],
  ['broker-jobs'],
  ['app.module'],
  ['main'],
];

const SOURCE = join(__dirname, '..', '..', '..', '..', 'apps', 'broker', 'src');
const floorOf = new Map(FLOORS.flatMap((rooms, floor) => rooms.map((room) => [room, floor] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The room a path of the broker stands in: its first folder, or the root file without `.ts`. */
const roomOf = (path: string) => relative(SOURCE, path).split(sep)[0].replace(/\.ts$/, '');

/** Every relative import of a file, type-only and dynamic ones included, as the room it reaches. */
function importedRooms(file: string): { room: string; line: string }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)]
    .map((m) => ({ target: normalize(join(dirname(file), m[1])), line: m[0] }))
    .filter(({ target }) => !relative(SOURCE, target).startsWith('..'))
    .map(({ target, line }) => ({ room: roomOf(target), line }));
}

describe('broker rooms', () => {
  const files = sources(SOURCE);

  it('gives every room of the broker a floor', () => {
    const rooms = [...new Set(files.map(roomOf))].sort();
    assert.deepEqual(
      rooms.filter((r) => !floorOf.has(r)),
      [],
    );
    assert.ok(rooms.length >= 20, `found only ${rooms.length} rooms under ${SOURCE}`);
  });

  it('imports only rooms on lower floors', () => {
    const upward: string[] = [];
    for (const file of files) {
      const room = roomOf(file);
      for (const target of importedRooms(file)) {
        if (target.room !== room && floorOf.get(target.room)! >= floorOf.get(room)!) {
          upward.push(`${relative(SOURCE, file)} (${room}, floor ${floorOf.get(room)}) -> ${target.room} (floor ${floorOf.get(target.room)}): ${target.line}`);
        }
      }
    }
    assert.deepEqual(upward, []);
  });
});
