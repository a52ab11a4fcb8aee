import type Docker from 'dockerode';
import type { GearSecurity } from '@gearshift/cartridges';

/**
 * What every container the agent runs is held to — gears and one-off hook containers alike: memory (no swap beyond
 * it), CPU and process limits, every capability dropped but the ones its cartridge declares, no new privileges, and
 * a read-only root with tmpfs where the cartridge says so.
 */
export interface Confinement {
  memoryMb: number;
  cpus: number;
  pids: number;
  security: GearSecurity;
}

// Sticky and world-writable as /tmp is: the cartridge's own user writes there whatever its uid, and a tmpfs is
// empty at every start. No setuid or device files in it.
const TMPFS_OPTIONS = 'rw,nosuid,nodev,mode=1777';

/** The HostConfig fields that confine a container, exactly as the Engine gets them. */
export function confinementHostConfig(c: Confinement): Docker.HostConfig {
  const bytes = c.memoryMb * 1024 * 1024;
  return {
    Memory: bytes,
    MemorySwap: bytes,
    NanoCpus: Math.round(c.cpus * 1e9),
    PidsLimit: c.pids,
    CapDrop: ['ALL'],
    CapAdd: [...c.security.capabilities],
    SecurityOpt: ['no-new-privileges:true'],
    ReadonlyRootfs: c.security.readOnlyRootFilesystem,
    Tmpfs: Object.fromEntries(c.security.tmpfs.map((path) => [path, TMPFS_OPTIONS])),
  };
}

/** An image build's share of the CPU (the classic builder takes a quota per period, not NanoCpus). */
export function buildCpuOptions(cpus: number | undefined): { cpuperiod?: number; cpuquota?: number } {
  if (!cpus) return {};
  const period = 100_000;
  return { cpuperiod: period, cpuquota: Math.round(cpus * period) };
}
