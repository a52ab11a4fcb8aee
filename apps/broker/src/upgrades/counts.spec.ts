import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareCounts, describeCounts, explainDifferences } from './counts';

describe('row counts of an upgrade', () => {
  it('finds no difference when every row is there', () => {
    assert.deepEqual(compareCounts({ 'public.items': 3, 'public.notes': 0 }, { 'public.notes': 0, 'public.items': 3 }), []);
  });

  it('names each table whose rows differ, is missing or is new', () => {
    assert.deepEqual(compareCounts({ a: 10, b: 2, c: 1 }, { a: 9, c: 1, d: 4 }), [
      'a has 9 row(s) instead of 10',
      'b (2 row(s)) is missing',
      'd (4 row(s)) was not there before',
    ]);
  });

  it('describes tables with their rows, and a cache by its keys', () => {
    assert.equal(describeCounts({ 'public.notes': 2, 'public.items': 2500 }), '2 table(s), 2502 row(s) (public.items 2500, public.notes 2)');
    assert.equal(describeCounts({ keys: 21 }), '21 key(s)');
    assert.equal(describeCounts({}), '0 table(s), 0 row(s)');
  });

  it('says why the counts can differ: the restore when the old database took no writes, late writes when it could not refuse them', () => {
    const differences = ['public.notes has 9 row(s) instead of 10'];
    assert.match(
      explainDifferences(differences, { from: 'postgresql-15', to: 'postgresql-17', quiesced: true }),
      /^public\.notes has 9 row\(s\) instead of 10 \(postgresql-15 took no writes during the copy, so the restore into postgresql-17 left rows out/,
    );
    assert.match(
      explainDifferences(differences, { from: 'x-1', to: 'x-2' }),
      /x-1 kept taking writes during the copy: rows written after its dump are not in x-2\); nothing was switched/,
    );
  });
});
