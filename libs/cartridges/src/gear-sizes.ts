/** Gear sizes: what one container may use. The scheduler counts memory so that no node is overcommitted. */
export const GEAR_SIZES = {
  small: { memoryMb: 256, cpus: 0.5, pids: 512 },
  medium: { memoryMb: 1024, cpus: 1, pids: 1024 },
  large: { memoryMb: 2048, cpus: 2, pids: 2048 },
} as const;

export type GearSize = keyof typeof GEAR_SIZES;
export const GEAR_SIZE_NAMES = Object.keys(GEAR_SIZES) as GearSize[];

/** Names of domains and apps: they become host names, container names and Docker network names. */
export const NAME_PATTERN = '^[a-z][a-z0-9]{0,31}$';
