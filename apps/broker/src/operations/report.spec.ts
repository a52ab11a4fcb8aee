import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reduceReport, reduceStageEnd, type OperationFields, type OperationReport } from './report';

const AT = Date.parse('2026-11-29T10:00:00.000Z');
const NOW = new Date('2026-11-29T10:00:05.000Z');
const first = { at: '2026-11-29T09:59:59.000Z', text: 'scale app to 2' };

const op = (patch: Partial<OperationFields> = {}): OperationFields => ({
  kind: 'app.scale',
  appId: 'a1',
  state: 'queued',
  steps: [first],
  error: null,
  pendingNodes: ['n1', 'n2'],
  dispatch: [
    { nodeId: 'n1', job: 'app.converge' },
    { nodeId: 'n2', job: 'app.converge' },
  ],
  context: {},
  finishedAt: null,
  ...patch,
});

const report = (patch: Partial<OperationReport>): OperationReport => ({
  operationId: 'op1',
  nodeId: 'n1',
  appId: 'a1',
  phase: 'step',
  at: AT,
  gears: [],
  ...patch,
});

describe('reduceReport', () => {
  it('records a progress step and starts a queued operation, leaving the nodes pending', () => {
    assert.deepEqual(reduceReport(op(), report({ step: 'pulling image' })), {
      operation: op({ state: 'running', steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n1', text: 'pulling image' }] }),
      save: true,
      log: [],
      markFailed: null,
      stageEnded: null,
      lines: [{ kind: 'step', text: 'pulling image' }],
    });
  });

  it('takes the steps a node batched before the output and the outcome the same report carries', () => {
    const batched = [
      { at: AT - 20, text: 'creating gear nodejs-18 1234abcd' },
      { at: AT - 10, text: 'nodejs-18 1234abcd is healthy (3 ms)' },
    ];
    const decision = reduceReport(op({ state: 'running', pendingNodes: ['n1'] }), report({ phase: 'succeeded', steps: batched, log: ['ready'] }));
    assert.deepEqual(
      decision.operation.steps.map((s) => s.text),
      [first.text, batched[0].text, batched[1].text, 'node finished'],
    );
    assert.deepEqual(decision.lines, [
      { kind: 'step', text: batched[0].text },
      { kind: 'step', text: batched[1].text },
      { kind: 'log', text: 'ready' },
      { kind: 'step', text: 'node finished' },
    ]);
    assert.deepEqual(decision.stageEnded, { failed: false, error: null });
    // A batch alone, after the operation ended, is kept like a late step.
    const ended = reduceReport(op({ state: 'succeeded' }), report({ steps: batched }));
    assert.equal(ended.save, true);
    assert.equal(ended.operation.steps.length, 3);
  });

  it('passes output lines on, before the step, and keeps steps in the order the nodes made them', () => {
    const later = { at: '2026-11-29T10:00:01.000Z', node: 'n2', text: 'started' };
    assert.deepEqual(reduceReport(op({ state: 'running', steps: [first, later] }), report({ log: ['npm ci', 'done'] })), {
      operation: op({ state: 'running', steps: [first, later] }),
      save: true,
      log: ['npm ci', 'done'],
      markFailed: null,
      stageEnded: null,
      lines: [
        { kind: 'log', text: 'npm ci' },
        { kind: 'log', text: 'done' },
      ],
    });
  });

  it('takes a node that finished off the pending list; the stage goes on while another node works', () => {
    assert.deepEqual(reduceReport(op({ state: 'running' }), report({ phase: 'succeeded' })), {
      operation: op({ state: 'running', pendingNodes: ['n2'], steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n1', text: 'node finished' }] }),
      save: true,
      log: [],
      markFailed: null,
      stageEnded: null,
      lines: [{ kind: 'step', text: 'node finished' }],
    });
  });

  it("ends the stage with the last node's success, and keeps what a build made in the context", () => {
    const result = { image: 'reg/app:3', dockerfile: 'recipe' as const };
    assert.deepEqual(reduceReport(op({ state: 'running', pendingNodes: ['n1'], context: { stage: 'build' } }), report({ phase: 'succeeded', result })), {
      operation: op({
        state: 'running',
        pendingNodes: [],
        context: { stage: 'build', image: 'reg/app:3', dockerfile: 'recipe' },
        steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n1', text: 'node finished' }],
      }),
      save: true,
      log: [],
      markFailed: null,
      stageEnded: { failed: false, error: null },
      lines: [{ kind: 'step', text: 'node finished' }],
    });
  });

  it("joins a second node's failure to the first, marks its other gears failed, and ends the stage failed", () => {
    const gears = [{ gearId: 'g2', appId: 'a1', state: 'running' as const, ports: {} }];
    assert.deepEqual(
      reduceReport(
        op({ state: 'running', pendingNodes: ['n2'], error: 'n1: no memory' }),
        report({ nodeId: 'n2', phase: 'failed', error: 'n2: image missing', gears }),
      ),
      {
        operation: op({
          state: 'running',
          pendingNodes: [],
          error: 'n1: no memory; n2: image missing',
          steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n2', text: 'node failed' }],
        }),
        save: true,
        log: [],
        markFailed: { appId: 'a1', nodeId: 'n2', except: ['g2'], message: 'n2: image missing' },
        stageEnded: { failed: true, error: 'n1: no memory; n2: image missing' },
        lines: [{ kind: 'step', text: 'node failed' }],
      },
    );
  });

  it('says "failed" for a node that failed without a reason', () => {
    const d = reduceReport(op({ state: 'running', pendingNodes: ['n1'] }), report({ phase: 'failed' }));
    assert.equal(d.operation.error, 'failed');
    assert.deepEqual(d.markFailed, { appId: 'a1', nodeId: 'n1', except: [], message: 'failed' });
    assert.deepEqual(d.stageEnded, { failed: true, error: 'failed' });
  });

  it('ignores a second outcome of a node that already reported (a job run twice), but keeps its step', () => {
    assert.deepEqual(reduceReport(op({ state: 'running', pendingNodes: ['n2'] }), report({ phase: 'failed', error: 'late' })), {
      operation: op({ state: 'running', pendingNodes: ['n2'], steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n1', text: 'node failed' }] }),
      save: true,
      log: [],
      markFailed: null,
      stageEnded: null,
      lines: [{ kind: 'step', text: 'node failed' }],
    });
  });

  it('keeps a progress line that arrives after the operation ended, and changes nothing else', () => {
    const ended = op({ state: 'failed', error: 'cancelled by ann', pendingNodes: ['n1'], finishedAt: NOW });
    assert.deepEqual(reduceReport(ended, report({ step: 'container started' })), {
      operation: { ...ended, steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n1', text: 'container started' }] },
      save: true,
      log: [],
      markFailed: null,
      stageEnded: null,
      lines: [{ kind: 'step', text: 'container started' }],
    });
  });

  it('does not write an outcome that arrives after the operation ended, nor end it again', () => {
    const ended = op({ state: 'failed', error: 'timed out', pendingNodes: ['n1'], finishedAt: NOW });
    assert.deepEqual(reduceReport(ended, report({ phase: 'succeeded' })), {
      operation: { ...ended, steps: [first, { at: '2026-11-29T10:00:00.000Z', node: 'n1', text: 'node finished' }] },
      save: false,
      log: [],
      markFailed: null,
      stageEnded: null,
      lines: [{ kind: 'step', text: 'node finished' }],
    });
  });
});

describe('reduceStageEnd', () => {
  const done = op({ state: 'running', pendingNodes: [] });

  it('sends the next stage: its jobs, its nodes pending, its step', () => {
    const dispatch = [
      { nodeId: 'n3', job: 'app.converge' as const },
      { nodeId: 'n3', job: 'app.converge' as const },
    ];
    assert.deepEqual(reduceStageEnd(done, { dispatch, step: 'retiring 1 old gear(s)' }, NOW), {
      operation: { ...done, dispatch, pendingNodes: ['n3'], steps: [first, { at: '2026-11-29T10:00:05.000Z', text: 'retiring 1 old gear(s)' }] },
      then: 'continue',
      deleteApp: null,
      lines: [{ kind: 'step', text: 'retiring 1 old gear(s)' }],
    });
  });

  it('carries the error a next stage sets (a rollback goes on, but the operation will fail)', () => {
    const dispatch = [{ nodeId: 'n1', job: 'app.converge' as const }];
    assert.deepEqual(reduceStageEnd(done, { dispatch, step: 'rolling back', error: 'release 2 was rolled back: unhealthy' }, NOW), {
      operation: {
        ...done,
        dispatch,
        pendingNodes: ['n1'],
        error: 'release 2 was rolled back: unhealthy',
        steps: [first, { at: '2026-11-29T10:00:05.000Z', text: 'rolling back' }],
      },
      then: 'continue',
      deleteApp: null,
      lines: [{ kind: 'step', text: 'rolling back' }],
    });
  });

  it("waits for the routers after an app's change succeeded everywhere (no stages)", () => {
    assert.deepEqual(reduceStageEnd(done, null, NOW), { operation: { ...done, context: { serving: true } }, then: 'serve', deleteApp: null, lines: [] });
  });

  it('waits for the routers after the last stage succeeded, with its step', () => {
    assert.deepEqual(reduceStageEnd({ ...done, context: { stage: 'retire' } }, { dispatch: [], step: 'release 2 is active' }, NOW), {
      operation: { ...done, context: { stage: 'retire', serving: true }, steps: [first, { at: '2026-11-29T10:00:05.000Z', text: 'release 2 is active' }] },
      then: 'serve',
      deleteApp: null,
      lines: [{ kind: 'step', text: 'release 2 is active' }],
    });
  });

  it('ends failed when a node failed', () => {
    assert.deepEqual(reduceStageEnd({ ...done, error: 'no memory' }, null, NOW), {
      operation: { ...done, error: 'no memory', state: 'failed', finishedAt: NOW },
      then: 'end',
      deleteApp: null,
      lines: [],
    });
  });

  it('ends failed with the error the last stage gives (a failed build)', () => {
    assert.deepEqual(reduceStageEnd(done, { dispatch: [], step: 'release 2 failed to build', error: 'the build of release 2 failed: exit 1' }, NOW), {
      operation: {
        ...done,
        error: 'the build of release 2 failed: exit 1',
        state: 'failed',
        finishedAt: NOW,
        steps: [first, { at: '2026-11-29T10:00:05.000Z', text: 'release 2 failed to build' }],
      },
      then: 'end',
      deleteApp: null,
      lines: [{ kind: 'step', text: 'release 2 failed to build' }],
    });
  });

  it('ends at once an operation that no longer has an app to serve', () => {
    assert.deepEqual(reduceStageEnd({ ...done, appId: null }, null, NOW), {
      operation: { ...done, appId: null, state: 'succeeded', finishedAt: NOW },
      then: 'end',
      deleteApp: null,
      lines: [],
    });
  });

  it('deletes the app of a deletion that succeeded, and forgets it', () => {
    const deletion = { ...done, kind: 'app.delete', dispatch: [{ nodeId: 'n1', job: 'app.remove' as const }] };
    assert.deepEqual(reduceStageEnd(deletion, null, NOW), {
      operation: { ...deletion, appId: null, state: 'succeeded', finishedAt: NOW },
      then: 'end',
      deleteApp: 'a1',
      lines: [],
    });
  });

  it('keeps the app of a deletion that failed', () => {
    const deletion = { ...done, kind: 'app.delete', error: 'n1: busy' };
    assert.deepEqual(reduceStageEnd(deletion, null, NOW), {
      operation: { ...deletion, state: 'failed', finishedAt: NOW },
      then: 'end',
      deleteApp: null,
      lines: [],
    });
  });
});
