import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { splitLines } from './line-splitter';

/** Writes the chunks one by one and gives the lines passed on, flushed at the end. */
async function split(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = [];
  const s = splitLines((l) => lines.push(l));
  for (const c of chunks) s.pass.write(c);
  await new Promise((r) => setImmediate(r));
  s.flush();
  return lines;
}

describe('line splitter', () => {
  it('passes on a line once it ends, across chunks', async () => {
    const lines: string[] = [];
    const s = splitLines((l) => lines.push(l));
    s.pass.write(Buffer.from('one\ntw'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines, ['one']);
    s.pass.write(Buffer.from('o\nthr'));
    s.pass.write(Buffer.from('ee\n'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines, ['one', 'two', 'three']);
  });

  it('drops \\r\\n endings and trailing blanks, and keeps empty lines', async () => {
    assert.deepEqual(await split([Buffer.from('a\r\n\r\nb  \r'), Buffer.from('\nc\n')]), ['a', '', 'b', 'c']);
  });

  it('passes on a last line without a newline when flushed, once', async () => {
    const lines: string[] = [];
    const s = splitLines((l) => lines.push(l));
    s.pass.write(Buffer.from('first\nlast'));
    await new Promise((r) => setImmediate(r));
    s.flush();
    s.flush();
    assert.deepEqual(lines, ['first', 'last']);
    assert.deepEqual(await split([Buffer.from('done\n')]), ['done']);
  });

  it('passes on the last line when the stream ends', async () => {
    const lines: string[] = [];
    const s = splitLines((l) => lines.push(l));
    s.pass.end(Buffer.from('x\ny'));
    await new Promise((r) => s.pass.on('end', r));
    s.flush();
    assert.deepEqual(lines, ['x', 'y']);
  });

  it('decodes a character cut in two between chunks', async () => {
    const text = Buffer.from('grüße 🚀\nnext\n');
    // Cut inside ü (2 bytes) and inside the rocket (4 bytes).
    const cuts = [3, text.indexOf(0xf0) + 2];
    const chunks = [text.subarray(0, cuts[0]), text.subarray(cuts[0], cuts[1]), text.subarray(cuts[1])];
    assert.deepEqual(await split(chunks), ['grüße 🚀', 'next']);
  });

  it('decodes a cut character at the very end of the output', async () => {
    const text = Buffer.from('end é');
    assert.deepEqual(await split([text.subarray(0, text.length - 1), text.subarray(text.length - 1)]), ['end é']);
  });
});
