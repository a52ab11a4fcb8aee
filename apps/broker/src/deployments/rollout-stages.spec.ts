import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convergeAll, nextDeploymentStage, planRolloutStart, rolloutStartStep, type RolloutGear, type RolloutInput } from './rollout-stages';

const ok = { failed: false, error: null };
const unhealthy = { failed: true, error: 'gear g3 failed its health check' };
const release = { id: 'd2', number: 2, state: 'rolling-out' as const };
const gear = (id: string, nodeId: string, deploymentId: string | null, cartridge = 'node-20'): RolloutGear => ({ id, nodeId, cartridge, deploymentId });
// Two old web gears of release 1, a database, and two fresh gears of release 2, one of them on a third node.
const gears = [gear('g1', 'n1', 'd1'), gear('g2', 'n2', 'd1'), gear('db', 'n1', null, 'postgresql-15'), gear('g3', 'n1', 'd2'), gear('g4', 'n3', 'd2')];
const everyNode = [
  { nodeId: 'n1', job: 'app.converge' },
  { nodeId: 'n2', job: 'app.converge' },
  { nodeId: 'n3', job: 'app.converge' },
];
const input = (patch: Partial<RolloutInput>): RolloutInput => ({ stage: 'surge', outcome: ok, release, activeDeploymentId: 'd1', gears, ...patch });

describe('nextDeploymentStage', () => {
  it('starts the rollout of a release that built', () => {
    assert.deepEqual(nextDeploymentStage(input({ stage: 'build', gears: [] })), {
      stage: null,
      release: { kind: 'built' },
      removeGears: [],
      stopApp: false,
      startRollout: true,
      dispatch: [],
      step: '',
    });
  });

  it('ends with the build error when a build fails and an older release serves', () => {
    assert.deepEqual(nextDeploymentStage(input({ stage: 'build', outcome: { failed: true, error: 'exit 1' } })), {
      stage: null,
      release: { kind: 'build-failed', error: 'exit 1' },
      removeGears: [],
      stopApp: false,
      startRollout: false,
      dispatch: [],
      step: 'release 2 failed to build',
      error: 'the build of release 2 failed: exit 1',
    });
  });

  it("stops an app whose first release failed to build, converging every node so the starter app's gears stop", () => {
    assert.deepEqual(
      nextDeploymentStage(input({ stage: 'build', outcome: { failed: true, error: 'exit 1' }, activeDeploymentId: null, gears: [gear('g1', 'n1', null)] })),
      {
        stage: 'rollback',
        release: { kind: 'build-failed', error: 'exit 1' },
        removeGears: [],
        stopApp: true,
        startRollout: false,
        dispatch: [{ nodeId: 'n1', job: 'app.converge' }],
        step: 'release 2 failed to build; the app had no release yet, so it stops until a deployment works',
        error: 'the build of release 2 failed: exit 1',
      },
    );
  });

  it('rolls every named service out with the web gears: retires the old gears of each, and of services the release drops', () => {
    const svc = (id: string, deploymentId: string, service: string, cartridge = 'docker-image'): RolloutGear => ({
      ...gear(id, 'n1', deploymentId, cartridge),
      service,
    });
    const all = [
      gear('g1', 'n1', 'd1'),
      gear('db', 'n1', null, 'postgresql-15'),
      svc('api1', 'd1', 'api', 'node-20'),
      svc('jobs1', 'd1', 'jobs'),
      gear('g3', 'n1', 'd2'),
      svc('api2', 'd2', 'api', 'node-20'),
    ];
    const served = nextDeploymentStage(input({ gears: all }))!;
    assert.equal(served.stage, 'retire');
    assert.deepEqual(served.removeGears.sort(), ['api1', 'g1', 'jobs1']);
    const failed = nextDeploymentStage(input({ gears: all, outcome: unhealthy }))!;
    assert.equal(failed.stage, 'rollback');
    assert.deepEqual(failed.removeGears.sort(), ['api2', 'g3']);
    // An app of services only: no web cartridge's gears among them.
    const only = nextDeploymentStage(input({ gears: [svc('api1', 'd1', 'api', 'node-20'), svc('api2', 'd2', 'api', 'node-20')] }))!;
    assert.deepEqual(only.removeGears, ['api1']);
  });

  it('activates a release whose fresh gears are healthy and retires the old web gears, not the database', () => {
    assert.deepEqual(nextDeploymentStage(input({})), {
      stage: 'retire',
      release: { kind: 'activate' },
      removeGears: ['g1', 'g2'],
      stopApp: false,
      startRollout: false,
      dispatch: everyNode,
      step: 'release 2 is serving; retiring 2 old gear(s)',
    });
  });

  it('rolls Procfile workers out with the web gears: the old ones retire once the release serves, or keep running when it fails', () => {
    const worker = (id: string, deploymentId: string, process = 'worker'): RolloutGear => ({ ...gear(id, 'n1', deploymentId), process });
    // Three workers and a clock of release 1; release 2 drops the clock and starts three workers beside the old ones.
    const all = [
      ...gears,
      worker('w1', 'd1'),
      worker('w2', 'd1'),
      worker('w3', 'd1'),
      worker('c1', 'd1', 'clock'),
      worker('w4', 'd2'),
      worker('w5', 'd2'),
      worker('w6', 'd2'),
    ];
    const served = nextDeploymentStage(input({ gears: all }))!;
    assert.equal(served.stage, 'retire');
    assert.deepEqual(served.release, { kind: 'activate' });
    assert.deepEqual(served.removeGears.sort(), ['c1', 'g1', 'g2', 'w1', 'w2', 'w3']);
    assert.equal(served.step, 'release 2 is serving; retiring 6 old gear(s)');
    const crashed = { failed: true, error: 'process worker, gear w4 exited with code 1; it printed:\nFATAL: QUEUE_NAME is not set' };
    const failed = nextDeploymentStage(input({ gears: all, outcome: crashed }))!;
    assert.equal(failed.stage, 'rollback');
    assert.deepEqual(failed.removeGears.sort(), ['g3', 'g4', 'w4', 'w5', 'w6']);
    assert.deepEqual(failed.release, { kind: 'rolled-back', error: `release 2 was rolled back: ${crashed.error}` });
    assert.equal(failed.error, `release 2 was rolled back: ${crashed.error}`);
    assert.equal(failed.stopApp, false);
  });

  it("names no retiring when the release's gears are the app's first", () => {
    assert.deepEqual(nextDeploymentStage(input({ activeDeploymentId: null, gears: [gear('g3', 'n1', 'd2')] })), {
      stage: 'retire',
      release: { kind: 'activate' },
      removeGears: [],
      stopApp: false,
      startRollout: false,
      dispatch: [{ nodeId: 'n1', job: 'app.converge' }],
      step: 'release 2 is serving',
    });
  });

  it('rolls back unhealthy fresh gears, leaving the old release serving', () => {
    assert.deepEqual(nextDeploymentStage(input({ outcome: unhealthy })), {
      stage: 'rollback',
      release: { kind: 'rolled-back', error: 'release 2 was rolled back: gear g3 failed its health check' },
      removeGears: ['g3', 'g4'],
      stopApp: false,
      startRollout: false,
      dispatch: everyNode,
      step: 'rolling back: the gears of release 2 did not become healthy',
      error: 'release 2 was rolled back: gear g3 failed its health check',
    });
  });

  it('rolls back and stops an app whose first release never got healthy', () => {
    assert.deepEqual(
      nextDeploymentStage(input({ outcome: unhealthy, activeDeploymentId: null, gears: [gear('db', 'n1', null, 'postgresql-15'), gear('g3', 'n2', 'd2')] })),
      {
        stage: 'rollback',
        release: { kind: 'rolled-back', error: 'release 2 was rolled back: gear g3 failed its health check' },
        removeGears: ['g3'],
        stopApp: true,
        startRollout: false,
        dispatch: [
          { nodeId: 'n1', job: 'app.converge' },
          { nodeId: 'n2', job: 'app.converge' },
        ],
        step: 'the gears of release 2 did not become healthy; the app had no release yet, so it stops until a deployment works',
        error: 'release 2 was rolled back: gear g3 failed its health check',
      },
    );
  });

  it('ends after retiring, activating a release that is not yet active (a stopped app took it)', () => {
    assert.deepEqual(nextDeploymentStage(input({ stage: 'retire' })), {
      stage: null,
      release: { kind: 'activate' },
      removeGears: [],
      stopApp: false,
      startRollout: false,
      dispatch: [],
      step: 'release 2 is active',
    });
  });

  it('ends after retiring without touching a release that is already active', () => {
    assert.deepEqual(nextDeploymentStage(input({ stage: 'retire', release: { ...release, state: 'active' } })), {
      stage: null,
      release: null,
      removeGears: [],
      stopApp: false,
      startRollout: false,
      dispatch: [],
      step: 'release 2 is active',
    });
  });

  it('has nothing to add after a rollback, nor for an operation in no stage', () => {
    assert.equal(nextDeploymentStage(input({ stage: 'rollback', outcome: ok })), null);
    assert.equal(nextDeploymentStage(input({ stage: 'rollback', outcome: unhealthy })), null);
    assert.equal(nextDeploymentStage(input({ stage: undefined })), null);
  });
});

describe('planRolloutStart', () => {
  it('surges a serving app with as many new web gears as it has', () => {
    assert.deepEqual(planRolloutStart({ desiredState: 'started', webGears: 3, minGears: 1, stoppedAfterFirstFailure: false }), {
      stage: 'surge',
      start: false,
      addGears: 3,
      first: false,
    });
  });

  it("gives a started app with no web gear its first ones, at least the cartridge's minimum", () => {
    assert.deepEqual(planRolloutStart({ desiredState: 'started', webGears: 0, minGears: 2, stoppedAfterFirstFailure: false }), {
      stage: 'surge',
      start: false,
      addGears: 2,
      first: true,
    });
    assert.deepEqual(planRolloutStart({ desiredState: 'started', webGears: 0, minGears: 0, stoppedAfterFirstFailure: false }), {
      stage: 'surge',
      start: false,
      addGears: 1,
      first: true,
    });
  });

  it('points the web gears of a stopped or idle app at the release, starting nothing', () => {
    for (const desiredState of ['stopped', 'idle'] as const) {
      assert.deepEqual(planRolloutStart({ desiredState, webGears: 2, minGears: 1, stoppedAfterFirstFailure: false }), {
        stage: 'retire',
        start: false,
        addGears: null,
        first: false,
      });
    }
  });

  it('starts an app that stopped because its first release failed', () => {
    assert.deepEqual(planRolloutStart({ desiredState: 'stopped', webGears: 1, minGears: 1, stoppedAfterFirstFailure: true }), {
      stage: 'surge',
      start: true,
      addGears: 1,
      first: false,
    });
    assert.deepEqual(planRolloutStart({ desiredState: 'stopped', webGears: 0, minGears: 1, stoppedAfterFirstFailure: true }), {
      stage: 'surge',
      start: true,
      addGears: 1,
      first: true,
    });
  });
});

describe('rolloutStartStep', () => {
  it('says how the release rolls out', () => {
    assert.equal(rolloutStartStep(4, { stage: 'surge', first: true }), 'starting the first gears of the app, with release 4');
    assert.equal(rolloutStartStep(4, { stage: 'surge', first: false }), 'starting gears of release 4 beside the current ones');
    assert.equal(rolloutStartStep(4, { stage: 'retire', first: false }), 'release 4 will run when the app starts');
  });
});

describe('convergeAll', () => {
  it('sends one converge to each node with a gear of the app, and to the extra nodes', () => {
    assert.deepEqual(convergeAll(gears, ['n4', 'n1']), [...everyNode, { nodeId: 'n4', job: 'app.converge' }]);
    assert.deepEqual(convergeAll([]), []);
  });
});
