import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { carriesName, carriesReference, declaredArgs, dockerfileImageRefs, substituteArgs } from './dockerfile-refs';

const refs = (text: string, args: Record<string, string> = {}) => dockerfileImageRefs(text, args).map((r) => `${r.line} ${r.where} ${r.image}`);

describe('Dockerfile image references', () => {
  it('reads FROM lines with --platform flags and AS names', () => {
    assert.deepEqual(refs('FROM --platform=linux/amd64 node:18 AS build\nRUN make\nFROM 972e4\n'), ['1 FROM node:18', '3 FROM 972e4']);
  });

  it('skips earlier stages by name (any case) or index, and scratch', () => {
    const text = ['FROM node:18 AS base', 'FROM base AS build', 'COPY --from=BUILD /a /a', 'COPY --from=0 /b /b', 'FROM scratch', 'COPY --from=1 /c /c'].join(
      '\n',
    );
    assert.deepEqual(refs(text), ['1 FROM node:18']);
  });

  it('reads COPY/ADD --from and RUN --mount from=, with the line the instruction starts on', () => {
    const text = [
      '# a comment',
      'FROM alpine:3',
      'COPY --chown=1000 --from=972e41fdb44d /srv /srv',
      'ADD --from="sha256:abc" /x /x',
      'RUN --mount=type=bind,from=972e4,target=/o \\',
      '    cat /o/server.js',
      'RUN --mount=type=cache,target=/c make',
    ].join('\n');
    assert.deepEqual(refs(text), ['2 FROM alpine:3', '3 COPY --from 972e41fdb44d', '4 ADD --from sha256:abc', '5 RUN --mount 972e4']);
  });

  it('substitutes global ARGs, with build args over their defaults', () => {
    const text = [
      'ARG GEARSHIFT_CARTRIDGE_IMAGE',
      'ARG BASE=972e4',
      'ARG TAG="18"',
      'FROM ${GEARSHIFT_CARTRIDGE_IMAGE}',
      'FROM $BASE',
      'FROM node:${TAG}',
      'FROM ${NONE:-9f}',
    ].join('\n');
    assert.deepEqual(refs(text, { GEARSHIFT_CARTRIDGE_IMAGE: 'gearshift/nodejs-18:abc' }), [
      '4 FROM gearshift/nodejs-18:abc',
      '5 FROM 972e4',
      '6 FROM node:18',
      '7 FROM 9f',
    ]);
    assert.deepEqual(refs('ARG BASE=alpine\nFROM $BASE', { BASE: 'cafe' }), ['2 FROM cafe']);
    assert.equal(substituteArgs('${A:+x}-${B:+y}', new Map([['A', '1']])), 'x-');
  });

  it('honours the escape directive and continuation lines', () => {
    assert.deepEqual(refs('# escape=`\nFROM `\n  972e4\n'), ['2 FROM 972e4']);
  });
});

describe('images carrying the reference they were asked for', () => {
  it('compares canonical names', () => {
    assert.ok(carriesReference('nginx', ['nginx:latest'], []));
    assert.ok(carriesReference('docker.io/library/nginx:latest', ['nginx:latest'], []));
    assert.ok(carriesReference('127.0.0.1:5000/gearshift-apps/gs-x:1', ['127.0.0.1:5000/gearshift-apps/gs-x:1'], []));
    assert.ok(carriesReference(`team/api@sha256:${'a'.repeat(64)}`, [], [`team/api@sha256:${'a'.repeat(64)}`]));
    assert.ok(!carriesReference('nginx:1', ['nginx:latest'], []));
  });

  it('never counts an id or id prefix as carried', () => {
    assert.ok(!carriesReference('972e4', ['972e4:latest'], []));
    assert.ok(!carriesReference('972e4', ['127.0.0.1:5000/gearshift-apps/gs-a:1'], []));
    assert.ok(carriesName('cafe', ['cafe:latest'], []), 'a hex name a local image is tagged with');
    assert.ok(!carriesName('972e4', ['127.0.0.1:5000/gearshift-apps/gs-a:1'], []));
  });
});

describe('declared build arguments', () => {
  it('are the names of every ARG, before and after FROM, with or without defaults', () => {
    const text = 'ARG GEARSHIFT_CARTRIDGE_IMAGE=node:22\nFROM ${GEARSHIFT_CARTRIDGE_IMAGE}\n# ARG COMMENTED\narg A B=1 \\\n  C\nRUN echo ARG D\n';
    assert.deepEqual([...declaredArgs(text)].sort(), ['A', 'B', 'C', 'GEARSHIFT_CARTRIDGE_IMAGE']);
  });
});
