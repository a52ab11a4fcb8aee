import type { BrokerJobs } from '@gearshift/cartridges';

type Report = BrokerJobs['operation.report'];

/** How long a progress step waits for others of its operation before it is sent: one job for what came meanwhile. */
export const STEP_WINDOW_MS = 100;

/**
 * An operation's reports to the broker, with its progress steps batched: converging a gear takes several steps within
 * milliseconds, and a hundred nodes placing thousands of gears would otherwise queue a job for each. A step waits up
 * to `windowMs` for the next; any other report of the same operation (output lines, its outcome) carries the steps
 * still waiting, so the broker reads them in the order they were taken.
 */
export class StepBatcher {
  private readonly waiting = new Map<string, { appId: string; steps: { at: number; text: string }[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly nodeId: string,
    private readonly send: (report: Report) => Promise<unknown>,
    private readonly lost: (err: Error) => void,
    private readonly windowMs = STEP_WINDOW_MS,
  ) {}

  /** A progress step of an operation: sent within `windowMs`, with the others taken meanwhile. */
  step(operationId: string, appId: string, text: string): void {
    const at = Date.now();
    const batch = this.waiting.get(operationId);
    if (batch) return void batch.steps.push({ at, text });
    const timer = setTimeout(() => {
      const steps = this.take(operationId);
      if (steps) this.send({ operationId, nodeId: this.nodeId, appId, phase: 'step', at: Date.now(), steps, gears: [] }).catch(this.lost);
    }, this.windowMs);
    this.waiting.set(operationId, { appId, steps: [{ at, text }], timer });
  }

  /** Sends a report now, with the steps of its operation that were still waiting. */
  report(report: Report): Promise<unknown> {
    const steps = this.take(report.operationId);
    return this.send(steps ? { ...report, steps: [...steps, ...(report.steps ?? [])] } : report);
  }

  /** Sends every step still waiting (the agent is stopping). */
  async flush(): Promise<void> {
    await Promise.all(
      [...this.waiting].map(([operationId, { appId }]) => {
        const steps = this.take(operationId)!;
        return this.send({ operationId, nodeId: this.nodeId, appId, phase: 'step', at: Date.now(), steps, gears: [] }).catch(this.lost);
      }),
    );
  }

  private take(operationId: string): { at: number; text: string }[] | undefined {
    const batch = this.waiting.get(operationId);
    if (!batch) return undefined;
    clearTimeout(batch.timer);
    this.waiting.delete(operationId);
    return batch.steps;
  }
}
