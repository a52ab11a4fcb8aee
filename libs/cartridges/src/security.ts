/**
 * How a gear is confined, as OpenShift's restricted policy does: every Linux capability dropped but the few its
 * cartridge declares, no new privileges (setuid binaries give nothing), and a read-only root filesystem where the
 * cartridge's runtime allows one, with tmpfs mounts where it must write. A cartridge that declares nothing gets the
 * restricted default: no capabilities, a writable root.
 */

/** The capabilities Docker knows, without the CAP_ prefix. */
export const LINUX_CAPABILITIES = [
  'AUDIT_CONTROL',
  'AUDIT_READ',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'BPF',
  'CHECKPOINT_RESTORE',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'PERFMON',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'SYSLOG',
  'WAKE_ALARM',
] as const;

export type LinuxCapability = (typeof LINUX_CAPABILITIES)[number];

/** The `security` section of a cartridge manifest. */
export const securitySchema = {
  description: "How the cartridge's gears are confined; absent: no capabilities, a writable root filesystem.",
  type: 'object',
  additionalProperties: false,
  properties: {
    /** The capabilities its gears keep; every other one is dropped. */
    capabilities: { type: 'array', uniqueItems: true, items: { type: 'string', enum: LINUX_CAPABILITIES } },
    /** The root filesystem is mounted read-only; volumes and `tmpfs` stay writable. */
    'read-only-root-filesystem': { type: 'boolean' },
    /** Writable in-memory folders (counted in the gear's memory), emptied at every start. */
    tmpfs: { type: 'array', uniqueItems: true, maxItems: 16, items: { type: 'string', pattern: '^(/[A-Za-z0-9._-]+)+$', maxLength: 200 } },
  },
} as const;

/** A gear's confinement, as the agent applies it. */
export interface GearSecurity {
  /** Added back after every capability is dropped. */
  capabilities: LinuxCapability[];
  readOnlyRootFilesystem: boolean;
  tmpfs: string[];
}

/** What a gear gets when nothing says otherwise: a `docker-image` gear, a cartridge without a `security` section. */
export const RESTRICTED_SECURITY: GearSecurity = { capabilities: [], readOnlyRootFilesystem: false, tmpfs: [] };

/** The confinement a manifest's `security` section asks for, with the restricted default for what it leaves out. */
export function gearSecurity(section?: {
  capabilities?: readonly LinuxCapability[];
  'read-only-root-filesystem'?: boolean;
  tmpfs?: readonly string[];
}): GearSecurity {
  return {
    capabilities: [...(section?.capabilities ?? RESTRICTED_SECURITY.capabilities)].sort(),
    readOnlyRootFilesystem: section?.['read-only-root-filesystem'] ?? RESTRICTED_SECURITY.readOnlyRootFilesystem,
    tmpfs: [...(section?.tmpfs ?? RESTRICTED_SECURITY.tmpfs)],
  };
}
