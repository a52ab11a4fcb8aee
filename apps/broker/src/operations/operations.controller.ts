import { Controller, Get, Inject, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { WaitPipe } from '../common/wait.pipe';
import { CurrentUser } from '../users/auth.guard';
import type { User } from '../users/user.entity';
import { OperationsService, type OperationLine } from './operations.service';
import { allStreams, BoundedStream, droppedWords, responseSink } from '../common/bounded-stream';
import { BROKER_CONFIG, type BrokerConfig } from '../config';

/** How progress reads in a terminal (and in `git push` output): steps stand out, build output is indented. */
export function formatLine(line: OperationLine): string {
  if (line.kind === 'step') return `-----> ${line.text}\n`;
  if (line.kind === 'log') return `       ${line.text}\n`;
  return line.state === 'succeeded' ? '-----> done\n' : `!!!!!  failed: ${line.error ?? 'unknown error'}\n`;
}

@ApiTags('operations')
@ApiBearerAuth()
@Controller('operations')
export class OperationsController {
  constructor(
    private readonly operations: OperationsService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  @Get(':id')
  @ApiQuery({ name: 'wait', required: false })
  get(@CurrentUser() user: User, @Param('id') id: string, @Query('wait', WaitPipe) w?: number) {
    return this.operations.get(user, id, w);
  }

  /**
   * Stops an operation that is queued or running: it ends failed with "cancelled by <user>" and its app can be
   * changed again. 409 when it has already ended.
   */
  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@CurrentUser() user: User, @Param('id') id: string) {
    return this.operations.cancel(user, id);
  }

  /**
   * The operation's progress as text: its steps so far, then (with follow=true) every step and output line as it
   * happens, until it ends. The last line says how it ended.
   */
  @Get(':id/log')
  @ApiQuery({ name: 'follow', required: false })
  async log(@CurrentUser() user: User, @Param('id') id: string, @Query('follow') follow: string | undefined, @Res() res: Response) {
    const queued: OperationLine[] = [];
    let live: ((line: OperationLine) => void) | undefined;
    const unsubscribe = this.operations.follow(id, (line) => (live ? live(line) : queued.push(line)));
    try {
      const op = await this.operations.get(user, id);
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('x-accel-buffering', 'no');
      res.flushHeaders();
      for (const s of op.steps) res.write(formatLine({ kind: 'step', text: s.text }));
      const ended = op.state === 'succeeded' || op.state === 'failed';
      if (ended || !['1', 'true', 'yes'].includes(follow ?? '')) {
        if (ended) res.write(formatLine({ kind: 'end', state: op.state, error: op.error }));
        res.end();
        unsubscribe();
        return;
      }
      // A build's output read slower than it comes is held up to GEARSHIFT_STREAM_BUFFER, then dropped and counted;
      // the end line always comes.
      const out = new BoundedStream(responseSink(res), {
        limit: this.config.streamBuffer,
        shared: allStreams(this.config.streamBufferTotal),
        join: (lines) => lines.join(''),
        notice: (d) => formatLine({ kind: 'log', text: `[gearshift] ${droppedWords(d)}` }),
      });
      await new Promise<void>((resolve) => {
        const seen = new Set(op.steps.map((s) => s.text));
        live = (line) => {
          // Steps already printed from the record are not printed twice.
          if (line.kind === 'step' && seen.delete(line.text)) return;
          if (line.kind !== 'end') return out.write(formatLine(line));
          out.end(formatLine(line));
          resolve();
        };
        for (const line of queued.splice(0)) live(line);
        res.on('close', () => resolve());
      });
      res.end();
    } finally {
      unsubscribe();
    }
  }
}
