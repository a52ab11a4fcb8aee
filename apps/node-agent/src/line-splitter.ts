import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** A stream to write output into, and how to pass on its unfinished last line. */
export interface LineSplitter {
  pass: PassThrough;
  /** Passes on what is left (a last line without a newline); once only, and nothing when nothing is left. */
  flush: () => void;
}

/**
 * Splits what is written into `pass` into lines, each passed on as it ends, without its line ending or trailing
 * blanks. A character cut in two between chunks is decoded whole; the stream's end passes on the last line.
 */
export function splitLines(onLine: (line: string) => void): LineSplitter {
  const pass = new PassThrough();
  const decoder = new StringDecoder('utf8');
  let pending = '';
  pass.on('data', (c: Buffer) => {
    pending += decoder.write(c);
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const l of parts) onLine(l.trimEnd());
  });
  const flush = () => {
    pending += decoder.end();
    if (pending) onLine(pending.trimEnd());
    pending = '';
  };
  pass.on('end', flush);
  return { pass, flush };
}
