/**
 * Advisory lock keys: one for migrations, one that serialises gear placement so no node is overcommitted, one that
 * elects the broker that runs the daily disk hygiene.
 */
export const LOCKS = { migrations: 0x6765_6172, placement: 0x6765_6173, diskHygiene: 0x6765_6174 } as const;

export type LockName = keyof typeof LOCKS;
