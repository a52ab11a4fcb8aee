/** A gear's state as its node reports it and the API shows it. Kept apart so that the console can read it alone. */
export type GearState = 'running' | 'stopped' | 'starting' | 'failed' | 'missing';
