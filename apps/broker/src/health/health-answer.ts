import type { BrokerSeen } from '../leadership/leadership.service';
import type { BrokerVersion } from './version';

export interface HealthFacts {
  postgres: boolean;
  redis: boolean;
  nodes: { name: string; ready: boolean; state: string }[];
  version: BrokerVersion;
  brokerId: string;
  leader: boolean;
  brokers: BrokerSeen[];
}

/**
 * GET /healthz's body. Anyone may ask (load balancers, `up`), so a caller without an administrator's token learns
 * whether things are up and how many there are, never the names of hosts or nodes; an administrator also gets the
 * lists. `ready`: at least one node is ready to take gears.
 */
export function healthAnswer(f: HealthFacts, admin: boolean) {
  const ok = f.postgres && f.redis;
  const readyNodes = f.nodes.filter((n) => n.ready).length;
  return {
    status: ok ? 'ok' : 'degraded',
    broker: 'up',
    postgres: f.postgres ? 'up' : 'down',
    redis: f.redis ? 'up' : 'down',
    ready: readyNodes > 0,
    counts: { nodes: f.nodes.length, readyNodes, brokers: f.brokers.length },
    version: f.version,
    leader: f.leader,
    ...(admin ? { nodes: f.nodes, brokerId: f.brokerId, brokers: f.brokers } : {}),
  };
}
