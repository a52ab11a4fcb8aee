import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildAndRelease,
  compileNeedsSource,
  dockerfileOffer,
  explainBuildFailure,
  labelInstruction,
  missingImagesNote,
  readableBuildOutput,
  recipeBuild,
  recipeDockerfile,
  ReleaseBuilder,
  serviceFolder,
  startDescription,
} from './builder';
import type { AgentConfig } from './config';
import type { DockerAdapter } from './docker.adapter';
import type { ImageBuilder } from './images';
import { withoutTerminalCodes } from './docker-images';

describe('build recipes', () => {
  const recipe = { workdir: '/opt/app', dependencies: ['package.json', 'package-lock.json'], install: 'npm install', command: ['gear-start'], hooks: {} };

  it('copies the dependency files present before the code, so installing them is a cached layer', () => {
    const df = recipeDockerfile('gearshift/nodejs-18:abc', recipe, new Set(['package.json', 'index.js']), true);
    const lines = df.split('\n');
    const deps = lines.findIndex((l) => l === 'COPY --chown=gear src/package.json ./');
    const install = lines.findIndex((l) => l.includes("sh -c 'npm install'"));
    const code = lines.findIndex((l) => l === 'COPY --chown=gear src/ ./');
    assert.ok(deps > 0 && install > deps && code > install, df);
    assert.match(df, /^FROM gearshift\/nodejs-18:abc$/m);
    assert.match(df, /NODE_EXTRA_CA_CERTS=\/tmp\/gearshift-ca\.crt/);
    assert.match(df, /^CMD \["gear-start"\]$/m);
    assert.doesNotMatch(df, /package-lock/);
  });

  it('skips the install without dependency files and runs the hooks in their places', () => {
    const df = recipeDockerfile(
      'base',
      { ...recipe, hooks: { preBuild: './.gearshift/hooks/pre-build', build: "echo 'built'" } },
      new Set(['.gearshift/hooks/pre-build']),
      false,
    );
    assert.doesNotMatch(df, /npm install/);
    assert.doesNotMatch(df, /gearshift-ca/);
    const lines = df.split('\n');
    const pre = lines.findIndex((l) => l.includes('hooks/pre-build') && l.startsWith('RUN'));
    const code = lines.findIndex((l) => l === 'COPY --chown=gear src/ ./');
    const build = lines.findIndex((l) => l.includes("echo '\\''built'\\''"));
    assert.ok(pre > 0 && code > pre && build > code, df);
  });

  it("runs the runtime's compile step after the source is in and before the build hook", () => {
    const df = recipeDockerfile('base', { ...recipe, compile: 'gear-build compile', hooks: { build: 'echo hook' } }, new Set(['package.json']), false);
    const lines = df.split('\n');
    const code = lines.findIndex((l) => l === 'COPY --chown=gear src/ ./');
    const compile = lines.findIndex((l) => l.includes("sh -c 'gear-build compile'"));
    const hook = lines.findIndex((l) => l.includes("sh -c 'echo hook'"));
    assert.ok(code > 0 && compile > code && hook > compile, df);
  });

  it('runs a compile step with nothing to build before the source, beside the Procfile, so that new code is the last layer alone', () => {
    const df = recipeDockerfile(
      'base',
      { ...recipe, compile: 'gear-build compile', hooks: {} },
      new Set(['package.json', 'Procfile', 'index.js']),
      false,
      undefined,
      true,
    );
    const lines = df.split('\n');
    const install = lines.findIndex((l) => l.includes("sh -c 'npm install'"));
    const procfile = lines.findIndex((l) => l === 'COPY --chown=gear src/Procfile ./');
    const compile = lines.findIndex((l) => l.includes("sh -c 'gear-build compile'"));
    const code = lines.findIndex((l) => l === 'COPY --chown=gear src/ ./');
    assert.ok(install > 0 && procfile > install && compile > procfile && code > compile, df);
    assert.equal(lines.filter((l) => l.includes('gear-build compile')).length, 1, df);
    assert.equal(lines.slice(code + 1).filter(Boolean).length, 0, df);
  });

  it('knows the compile step needs the source only when the JSON file the recipe names has the key', () => {
    const needs = { compile: 'gear-build compile', compileNeeds: { file: 'package.json', key: 'scripts.build' } };
    const pkg = (text: string | undefined) => (file: string) => (file === 'package.json' ? text : undefined);
    assert.equal(compileNeedsSource(needs, pkg('{"scripts":{"build":"tsc"}}')), true);
    assert.equal(compileNeedsSource(needs, pkg('{"scripts":{"start":"node index.js"}}')), false);
    assert.equal(compileNeedsSource(needs, pkg('{"scripts":{"build":""}}')), false);
    assert.equal(compileNeedsSource(needs, pkg('{"name":"x"}')), false);
    assert.equal(compileNeedsSource(needs, pkg(undefined)), false);
    // A file that is not JSON leaves the step where it was, to say so.
    assert.equal(compileNeedsSource(needs, pkg('{')), true);
    // Without the recipe's say, the step always needs the source.
    assert.equal(compileNeedsSource({ compile: 'make' }, pkg(undefined)), true);
  });

  it("makes a Procfile's web command the image's command, run by a shell with PORT defaulting to the web port", () => {
    const df = recipeDockerfile('base', { ...recipe, port: 8080 }, new Set(['package.json', 'Procfile']), false, 'serve -l $PORT');
    assert.match(df, /^ENV PORT=\$\{PORT:-8080\}$/m);
    assert.match(df, /^CMD \["\/bin\/sh","-c","exec serve -l \$PORT"\]$/m);
    assert.doesNotMatch(df, /gear-start/);
  });

  it('says what starts the app after the dependencies and before the source, so that new code makes no new layer of it', () => {
    for (const web of [undefined, 'serve -l $PORT']) {
      const lines = recipeDockerfile('base', { ...recipe, port: 8080 }, new Set(['package.json', 'Procfile']), false, web).split('\n');
      const install = lines.findIndex((l) => l.includes("sh -c 'npm install'"));
      const starts = lines.flatMap((l, i) => (/^(CMD|ENV) /.test(l) ? [i] : []));
      const code = lines.indexOf('COPY --chown=gear src/ ./');
      assert.ok(starts.length > 0 && starts.every((i) => i > install && i < code), lines.join('\n'));
    }
  });

  it('gives an image all its labels in one instruction, in which no value is read as a variable or a second label', () => {
    assert.equal(
      labelInstruction({ 'gearshift.release': '7', 'gearshift.app': 'a-1', odd: 'a$b "c" d=e' }),
      'LABEL "gearshift.app"="a-1" "gearshift.release"="7" "odd"="a\\$b \\"c\\" d=e"',
    );
  });

  it("names each step that matters and hides the Dockerfile's plumbing", () => {
    const { dockerfile, steps } = recipeBuild('base', recipe, new Set(['package.json']), true);
    const instructions = dockerfile.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(steps.length, instructions.length);
    const install = instructions.findIndex((l) => l.includes('npm install')) + 1;
    const seen: string[] = [];
    const out = readableBuildOutput(steps, (l) => seen.push(l));
    [
      `Step 1/${steps.length} : FROM base`,
      ' ---> 0123456789ab',
      `Step 5/${steps.length} : COPY ca.crt /tmp/gearshift-ca.crt`,
      ' ---> Using cache',
      `Step ${install}/${steps.length} : RUN NODE_EXTRA_CA_CERTS=/tmp/gearshift-ca.crt sh -c 'npm install'`,
      ' ---> Running in 0123456789ab',
      'added 3 packages in 2s',
      'Removing intermediate container 0123456789ab',
      ' ---> 0123456789ab',
      'Successfully built 0123456789ab',
      'Successfully tagged x:1',
    ].forEach(out);
    assert.deepEqual(seen, ['installing dependencies (package.json)', 'added 3 packages in 2s']);
  });

  it('makes the trusted CAs readable to the build user whatever mode the file had in the build context', () => {
    const lines = recipeDockerfile('base', recipe, new Set(['package.json']), true).split('\n');
    const copy = lines.indexOf('COPY ca.crt /tmp/gearshift-ca.crt');
    const chmod = lines.indexOf('RUN chmod 0644 /tmp/gearshift-ca.crt');
    const asUser = lines.indexOf('USER gear');
    const install = lines.findIndex((l) => l.includes('npm install'));
    // As root, after the copy and before anything runs as the build user.
    assert.ok(copy > 0 && chmod === copy + 1 && asUser > chmod && install > asUser, lines.join('\n'));
    assert.doesNotMatch(recipeDockerfile('base', recipe, new Set(['package.json']), false), /chmod/);
  });

  it('drops terminal colour codes from build output', () => {
    assert.equal(withoutTerminalCodes('\x1b[91mnpm warn deprecated x\x1b[0m'), 'npm warn deprecated x');
    assert.equal(withoutTerminalCodes('\x1b[1;31merror\x1b[K plain'), 'error plain');
    assert.equal(withoutTerminalCodes('added 3 packages in 2s'), 'added 3 packages in 2s');
  });
});

describe('service folders', () => {
  it('are folders of the source tree; a path that leaves it is refused', () => {
    assert.equal(serviceFolder('/b/src', 'api'), '/b/src/api');
    assert.equal(serviceFolder('/b/src', './services/api/'), '/b/src/services/api');
    assert.equal(serviceFolder('/b/src', '.'), '/b/src');
    assert.throws(() => serviceFolder('/b/src', '../other'), /not a folder of the source/);
    assert.throws(() => serviceFolder('/b/src', '/etc'), /not a folder of the source/);
  });
});

describe('buildAndRelease', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Builds that take `ms` each and note when they end; a release step that notes when it starts and ends. */
  const setup = (durations: number[], releaseFails = false, failing?: number) => {
    const events: string[] = [];
    const builds = durations.map((ms, i) => async () => {
      await sleep(ms);
      if (i === failing) {
        events.push(`build ${i} failed`);
        throw new Error(`service ${i}: the build failed`);
      }
      events.push(`built ${i}`);
      return i;
    });
    const run = async () => {
      events.push('release started');
      await sleep(30);
      events.push('release ended');
      if (releaseFails) throw new Error("the Procfile's release process exited with code 1");
    };
    return { events, builds, run };
  };

  it('starts the release step once its own image is built, while the other images still build', async () => {
    const { events, builds, run } = setup([10, 500, 500]);
    assert.deepEqual(await buildAndRelease(4, builds, { after: 0, run }), [0, 1, 2]);
    assert.deepEqual(events, ['built 0', 'release started', 'release ended', 'built 1', 'built 2']);
  });

  it('starts it before its image is pushed, when the build says the image is there', async () => {
    const events: string[] = [];
    const build = async (built: () => void) => {
      events.push('built');
      built();
      await sleep(60);
      events.push('pushed');
      return 0;
    };
    const run = async () => void events.push('release started');
    await buildAndRelease(4, [build], { after: 0, run });
    assert.deepEqual(events, ['built', 'release started', 'pushed']);
  });

  it('ends only when both the builds and the release step ended', async () => {
    const { events, builds, run } = setup([10, 10]);
    await buildAndRelease(4, builds, { after: 1, run });
    assert.deepEqual(events, ['built 0', 'built 1', 'release started', 'release ended']);
  });

  it("fails with the release step's failure once the other images are built", async () => {
    const { events, builds, run } = setup([10, 80], true);
    await assert.rejects(buildAndRelease(4, builds, { after: 0, run }), /release process exited with code 1/);
    assert.deepEqual(events, ['built 0', 'release started', 'release ended', 'built 1']);
  });

  it("fails with a service's build failure, after the release step that had started ended", async () => {
    const { events, builds, run } = setup([10, 20], false, 1);
    await assert.rejects(buildAndRelease(4, builds, { after: 0, run }), /service 1: the build failed/);
    assert.deepEqual(events, ['built 0', 'release started', 'build 1 failed', 'release ended']);
  });

  it('runs no release step when its own image failed to build', async () => {
    const { events, builds, run } = setup([10, 50], false, 0);
    await assert.rejects(buildAndRelease(4, builds, { after: 0, run }), /service 0: the build failed/);
    assert.deepEqual(events, ['build 0 failed', 'built 1']);
  });

  it('runs it after every build when none of the images is its own, and not at all without one (does nothing)', async () => {
    const late = setup([10, 10]);
    await buildAndRelease(4, late.builds, { after: -1, run: late.run });
    assert.deepEqual(late.events, ['built 0', 'built 1', 'release started', 'release ended']);
    const none = setup([10]);
    await buildAndRelease(4, none.builds, null);
    assert.deepEqual(none.events, ['built 0']);
  });
});

describe('build scratch folders', () => {
  it("removes the folders this agent's builds left when it was killed, and no other agent's", () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gs-builds-'));
    try {
      const agent = (nodeName: string) => new ReleaseBuilder({ dataDir, instance: 'gs', nodeName } as AgentConfig, {} as DockerAdapter, {} as ImageBuilder);
      for (const d of ['gs-node1/0b1c2d3e-aaaa/app/src', 'gs-node1/9f8e7d6c-bbbb', 'gs-node2/11112222-cccc'])
        mkdirSync(join(dataDir, 'builds', d), { recursive: true });
      assert.equal(agent('node1').removeLeftovers(), 2);
      assert.deepEqual(readdirSync(join(dataDir, 'builds')), ['gs-node2'], "node2's build in progress stays");
      assert.equal(agent('node1').removeLeftovers(), 0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("what a repository's own Dockerfile is offered", () => {
  const nodejs = { name: 'nodejs-24', image: 'gearshift/nodejs-24:abc' };

  it("gives a service's Dockerfile its runtime's image, the base image and the node's CA file only when it declares them, and says what is offered", () => {
    const declared = new Set(['GEARSHIFT_CARTRIDGE_IMAGE', 'GEARSHIFT_CA_FILE']);
    const offer = dockerfileOffer({ declared, cartridge: nodejs, baseImage: 'gearshift/base:bookworm', ca: true });
    assert.deepEqual(offer.buildArgs, { GEARSHIFT_CARTRIDGE_IMAGE: 'gearshift/nodejs-24:abc', GEARSHIFT_CA_FILE: 'gearshift-ca.crt' });
    assert.match(
      offer.lines[0],
      /may build FROM the images this node gives it, each to a Dockerfile that declares its ARG: ARG GEARSHIFT_CARTRIDGE_IMAGE \(the nodejs-24 cartridge's image, gearshift\/nodejs-24:abc\) or ARG GEARSHIFT_BASE_IMAGE/,
    );
    assert.match(offer.lines[1], /CA certificates are gearshift-ca\.crt in the build context/);

    const plain = dockerfileOffer({ declared: new Set(), cartridge: nodejs, baseImage: 'gearshift/base:bookworm', ca: true });
    assert.deepEqual(plain.buildArgs, {});
    assert.match(plain.lines[1], /^declare ARG GEARSHIFT_CA_FILE to be given the node's CA certificates/);
  });

  it("gives the web cartridge's Dockerfile both images whatever it declares, as before, and says when the node has no CAs", () => {
    const offer = dockerfileOffer({ declared: new Set(['GEARSHIFT_CA_FILE']), cartridge: nodejs, baseImage: 'b', ca: false, always: true });
    assert.deepEqual(offer.buildArgs, { GEARSHIFT_CARTRIDGE_IMAGE: 'gearshift/nodejs-24:abc', GEARSHIFT_BASE_IMAGE: 'b' });
    assert.match(offer.lines[1], /no CA certificates/);
    assert.doesNotMatch(dockerfileOffer({ declared: new Set(), baseImage: 'b', ca: true }).lines[0], /GEARSHIFT_CARTRIDGE_IMAGE/);
  });

  it('says which images a build will pull, and explains a failure to pull one of them by its line', () => {
    const missing = [{ line: 2, where: 'FROM', image: 'node:22-alpine' }];
    assert.equal(missingImagesNote([]), undefined);
    assert.match(missingImagesNote(missing)!, /node:22-alpine \(line 2\)/);
    const failure = 'building x failed: pull access denied for node, repository does not exist or may require authorization';
    const explained = explainBuildFailure(failure, missing);
    assert.ok(explained.startsWith(failure));
    assert.match(explained, /FROM node:22-alpine \(Dockerfile line 2\) is not on this node and could not be pulled .*\$\{GEARSHIFT_CARTRIDGE_IMAGE\}/);
    // A failure of a step of the build itself, or with every image on the node, is said as it was.
    assert.equal(
      explainBuildFailure("building x failed: The command '/bin/sh -c make' returned a non-zero code: 2", missing),
      "building x failed: The command '/bin/sh -c make' returned a non-zero code: 2",
    );
    assert.equal(explainBuildFailure(failure, []), failure);
  });
});

describe('what a build says starts the gears', () => {
  const procfile = [
    "start command: node server.js (the Procfile's web process)",
    "release command: node migrate.js (the Procfile's release process, run once before the release takes traffic)",
  ];

  it("names a service's own command in place of the Procfile's web line, which another service of the folder starts with", () => {
    assert.deepEqual(startDescription({ name: 'w', start: 'node worker.js' }, procfile), [
      "start command: node worker.js (service w's own command, in place of what its image starts)",
      procfile[1],
    ]);
    assert.deepEqual(startDescription({ name: 'w', start: 'node worker.js' }, []), [
      "start command: node worker.js (service w's own command, in place of what its image starts)",
    ]);
  });

  it("says what the image says for a service that names no command, and for the web cartridge's image (does nothing)", () => {
    assert.deepEqual(startDescription({ name: 'web' }, procfile), procfile);
    assert.deepEqual(startDescription({}, procfile), procfile);
  });
});
