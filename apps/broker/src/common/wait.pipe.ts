import { PipeTransform } from '@nestjs/common';
import { invalid } from './errors';

/** `?wait=SECONDS`: block until the operation ends or the time is up (at most 600 s). */
export class WaitPipe implements PipeTransform<string | undefined, number | undefined> {
  transform(value: string | undefined): number | undefined {
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 600) throw invalid('?wait', 'range', 'must be a whole number of seconds from 0 to 600');
    return n;
  }
}
