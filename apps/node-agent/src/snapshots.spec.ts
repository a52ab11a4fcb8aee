import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCounts } from './snapshots';

describe('row counts taken with a snapshot', () => {
  it("reads psql's name|rows and mariadb's name<TAB>rows lines, and nothing else", () => {
    assert.deepEqual(parseCounts('public.items|2500\ns2."We ird"|2\n'), { 'public.items': 2500, 's2."We ird"': 2 });
    assert.deepEqual(parseCounts('entries\t3\r\nod d\t0\n'), { entries: 3, 'od d': 0 });
    assert.deepEqual(parseCounts('Warning: something\n\n'), {});
  });
});
