import { PipeTransform } from '@nestjs/common';
import { invalid } from './errors';

/** A yes/no query parameter (`?reveal=true`): absent is false; anything but true/false/1/0 is a 400 that names it. */
export class FlagPipe implements PipeTransform<string | undefined, boolean> {
  constructor(private readonly name: string) {}

  transform(value: string | undefined): boolean {
    if (value === undefined || value === '') return false;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw invalid(`?${this.name}`, 'boolean', 'must be true or false');
  }
}
