import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RESTRICTED_SECURITY } from '@gearshift/cartridges';
import { DockerAdapter } from '../apps/node-agent/src/docker.adapter';

/**
 * A one-off command that writes without end to its container's own filesystem (which Docker bounds on no ext4 host)
 * is measured by the Engine and killed once past its bound, saying so; one within it runs to its end.
 */
describe("a one-off command's writes", { timeout: 120_000 }, () => {
  const docker = new DockerAdapter();
  const run = async (megabytes: number, diskLimitMb: number) => {
    const lines: string[] = [];
    const exitCode = await docker.runOnce({
      name: `gst-rundisk-${randomBytes(4).toString('hex')}`,
      image: 'gearshift/base:bookworm',
      // Written a few megabytes a second, as a real command would, so the bound is seen while it writes.
      command: ['sh', '-c', `for i in $(seq ${megabytes}); do dd if=/dev/zero of=/tmp/fill-$i bs=1M count=1 2>/dev/null; sleep 0.05; done; echo wrote`],
      env: {},
      labels: { 'gearshift.test': 'run-disk' },
      timeoutMs: 60_000,
      onLine: (line) => lines.push(line),
      diskLimitMb,
      memoryMb: 256,
      cpus: 1,
      pids: 64,
      security: RESTRICTED_SECURITY,
    });
    return { exitCode, lines };
  };

  it('kills a command past its bound, saying what it wrote and which setting bounds it', async () => {
    const { exitCode, lines } = await run(400, 16);
    assert.notEqual(exitCode, 0, lines.join('\n'));
    assert.ok(!lines.includes('wrote'), 'it did not run to its end');
    assert.ok(
      lines.some((l) =>
        /^gearshift: killed: the command wrote \d+ MB to its container's filesystem, more than the 16 MB a one-off command may \(GEARSHIFT_RUN_DISK_MB\)$/.test(
          l,
        ),
      ),
      lines.join('\n'),
    );
  });

  it('lets a command within its bound run to its end', async () => {
    const { exitCode, lines } = await run(4, 64);
    assert.equal(exitCode, 0, lines.join('\n'));
    assert.deepEqual(lines, ['wrote']);
  });
});
