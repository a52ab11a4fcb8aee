/**
 * Advisory lock keys: one for migrations, one that serialises gear placement so no node is overcommitted, one that
 * elects the broker that runs the daily disk hygiene, one that puts the brokers' route publications in one order.
 * (0x6765_6175 is the leader's: leadership/leadership.service.ts.)
 */
export const LOCKS = { migrations: 0x6765_6172, placement: 0x6765_6173, diskHygiene: 0x6765_6174, routes: 0x6765_6176 } as const;

export type LockName = keyof typeof LOCKS;
