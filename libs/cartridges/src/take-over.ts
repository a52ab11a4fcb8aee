import { renameSync, writeFileSync } from 'node:fs';

/**
 * How a new copy of a part of the platform (broker, agent, router) tells the supervisor that replaces an older copy
 * that it is ready: the supervisor names a file in GEARSHIFT_READY_FILE, and the part writes its pid there, with
 * the URL of a health endpoint to check when it has one, once it could do the older copy's work. Only then is the
 * older copy stopped. `serving` says that the part does all of it (the broker listens on the platform's port).
 */
export interface ReadyReport {
  pid: number;
  serving: boolean;
  healthUrl?: string;
}

/** Writes this process's ready report when a supervisor asked for one (GEARSHIFT_READY_FILE); otherwise nothing. */
export function reportReady(report: Omit<ReadyReport, 'pid'>, env: NodeJS.ProcessEnv = process.env): void {
  const file = env.GEARSHIFT_READY_FILE;
  if (!file) return;
  const body: ReadyReport = { pid: process.pid, ...report };
  // Through a temporary name: the supervisor never reads half of it.
  writeFileSync(`${file}.${process.pid}`, `${JSON.stringify(body)}\n`);
  renameSync(`${file}.${process.pid}`, file);
}

/** Whether this process was started to take the place of a running copy (it then waits for what that copy holds). */
export function takingOver(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.GEARSHIFT_TAKING_OVER === '1';
}
