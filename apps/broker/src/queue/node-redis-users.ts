import { createHash, randomBytes } from 'node:crypto';
import { BEATS_QUEUE, BROKER_QUEUE, nodeQueue } from '@gearshift/cartridges';

/** The name of a node's own Redis user: one per node and platform instance. */
export const nodeRedisUser = (instance: string, nodeId: string) => `${instance}-node-${nodeId}`;

/** A new password for a node's Redis user, and the SHA-256 Redis's ACL keeps of it (the broker stores only that). */
export function newRedisPassword(): { password: string; hash: string } {
  const password = randomBytes(24).toString('base64url');
  return { password, hash: createHash('sha256').update(password).digest('hex') };
}

/**
 * The ACL rule of a node's Redis user, as `ACL SETUSER` arguments. What an agent does in Redis, all through BullMQ
 * and one connection: it works its own queue (`<instance>:node-<id>:*`: the jobs, their locks, events and markers,
 * which BullMQ's Lua scripts touch by name, and Redis checks every key a script touches against the user's patterns),
 * adds reports to the broker's queue (`<instance>:broker:*`: adding a job runs a script over the queue's wait list,
 * meta, id counter, events and the job's hash, so the whole queue prefix) and heartbeats to the heartbeats' queue
 * (`<instance>:beats:*`, for the same reason; an older agent still beats on the broker's), and for a log request
 * reads the request's `alive` key and publishes lines on its channel (`<instance>:logs:*`, read-only keys). It may run
 * every command but administrative and dangerous ones; INFO is let through because ioredis's ready check and BullMQ's
 * version check ask it. Another node's queue, the router's keys and every other key are refused (NOPERM).
 */
export function nodeRedisRule(instance: string, nodeId: string, passwordHash: string): string[] {
  return [
    'reset',
    'on',
    `#${passwordHash}`,
    `~${instance}:${nodeQueue(nodeId)}:*`,
    `~${instance}:${BROKER_QUEUE}:*`,
    `~${instance}:${BEATS_QUEUE}:*`,
    `%R~${instance}:logs:*`,
    `&${instance}:logs:*`,
    '+@all',
    '-@admin',
    '-@dangerous',
    '+info',
  ];
}
