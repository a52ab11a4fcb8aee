import { LABELS } from '@gearshift/cartridges';
import type { DockerAdapter, ObservedContainer } from './docker.adapter';
import type { FailedGears } from './failed-gears';

/** A running gear that wrote more to its own filesystem than a gear may. */
export interface OverDisk {
  containerId: string;
  gearId: string;
  appId: string;
  cartridge: string;
  /** Bytes it wrote to its writable layer. */
  written: number;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

/** The running gears among `containers` whose writes (`written`, by container id) are past `limitMb`. */
export function overDisk(containers: readonly ObservedContainer[], written: ReadonlyMap<string, number>, limitMb: number): OverDisk[] {
  return containers
    .filter((c) => c.state === 'running' && c.labels[LABELS.gear] && (written.get(c.id) ?? 0) > limitMb * 1024 * 1024)
    .map((c) => ({
      containerId: c.id,
      gearId: c.labels[LABELS.gear],
      appId: c.labels[LABELS.app],
      cartridge: c.labels[LABELS.cartridge] ?? '',
      written: written.get(c.id) ?? 0,
    }));
}

/** The line a replaced gear's logs end with. */
export function diskReplacedLine(written: number, limitMb: number): string {
  return (
    `gearshift: replaced: the gear wrote ${mb(written)} to its container's filesystem, more than the ${limitMb} MB a gear may ` +
    '(GEARSHIFT_GEAR_DISK_MB); it starts again from its release, with its volumes kept. Write lasting data to a volume or a database'
  );
}

/**
 * Docker bounds no container's writable layer on most filesystems (ext4, for one), so a gear that writes without end
 * would fill its node's disk and stop every other gear there. Each check asks the Engine what every running gear of
 * this node wrote; one past the bound is replaced as an evicted pod is: what it printed is kept for its logs, with
 * the reason, and its container is removed in its app's turn, so that the broker starts it again from its spec (a
 * gear missing from the node's report is drift). Its volumes stay.
 */
export class GearDiskGuard {
  private checking = false;

  constructor(
    private readonly o: {
      docker: Pick<DockerAdapter, 'listContainers' | 'writtenBytes' | 'logTail' | 'stopContainer' | 'removeContainer'>;
      /** This node's gears. */
      labels: Record<string, string>;
      limitMb: number;
      failedGears: Pick<FailedGears, 'record'>;
      /** Runs work in the app's turn, after the jobs of the app before it. */
      serial: <T>(appId: string, work: () => Promise<T>) => Promise<T>;
      log: (line: string) => void;
      /** Called after a check that replaced any gear (the node then reports at once). */
      replaced: () => void;
    },
  ) {}

  /** Measures every running gear once and replaces those past the bound; how many were replaced. */
  async check(): Promise<number> {
    if (this.checking) return 0;
    this.checking = true;
    try {
      const { docker, labels, limitMb } = this.o;
      const [containers, written] = await Promise.all([docker.listContainers(labels), docker.writtenBytes(labels)]);
      let replaced = 0;
      for (const g of overDisk(containers, written, limitMb)) {
        if (await this.o.serial(g.appId, () => this.replace(g))) replaced++;
      }
      if (replaced > 0) this.o.replaced();
      return replaced;
    } finally {
      this.checking = false;
    }
  }

  private async replace(g: OverDisk): Promise<boolean> {
    const { docker } = this.o;
    // A job of the app may have replaced or removed it while it waited for its turn.
    const now = await docker.listContainers({ ...this.o.labels, [LABELS.gear]: g.gearId });
    if (!now.some((c) => c.id === g.containerId && c.state === 'running')) return false;
    const line = diskReplacedLine(g.written, this.o.limitMb);
    const lines = (await docker.logTail(g.containerId, 200).catch(() => '')).split('\n').filter(Boolean);
    this.o.failedGears.record(g.appId, {
      gear: g.gearId,
      cartridge: g.cartridge,
      at: new Date().toISOString(),
      lines: [...lines, line],
      reason: 'was replaced for its disk use',
    });
    this.o.log(`${g.appId.slice(0, 8)}: gear ${g.gearId.slice(0, 8)} ${line.replace(/^gearshift: /, '')}`);
    await docker.stopContainer(g.containerId);
    await docker.removeContainer(g.containerId);
    return true;
  }
}
