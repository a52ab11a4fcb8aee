import { sealedValues } from '../common/secrets';
import { App } from './app.entity';
import { AppCartridge } from './app-cartridge.entity';
import { Gear } from './gear.entity';

/**
 * Apps, their cartridges and their gears as plain SQL reads them: every request about an app, every operation sent,
 * every route table and every heartbeat that compares an app reads these, and TypeORM's find took more of a busy
 * broker to write each statement and build each entity than Postgres took to answer. The columns are the entities'
 * own, and sealed values open as the entities' columns open them.
 */
export const APP_FIELDS =
  'a.id, a.domain_id, a.name, a.desired_state, a.size, a.env, a.autoscale_min, a.autoscale_max, a.autoscale_target, a.idle_after_seconds, ' +
  'a.last_scaled_at, a.active_deployment_id, a.health, a.security_override, a.services, a.degraded, a.created_at, a.updated_at';

export interface AppRow {
  id: string;
  domain_id: string;
  name: string;
  desired_state: App['desiredState'];
  size: App['size'];
  env: Record<string, string>;
  autoscale_min: number | null;
  autoscale_max: number | null;
  autoscale_target: number | null;
  idle_after_seconds: number | null;
  last_scaled_at: Date | null;
  active_deployment_id: string | null;
  health: App['health'];
  security_override: App['securityOverride'];
  services: App['services'];
  degraded: string | null;
  created_at: Date;
  updated_at: Date;
}

export const appOf = (r: AppRow): App =>
  Object.assign(new App(), {
    id: r.id,
    domainId: r.domain_id,
    name: r.name,
    desiredState: r.desired_state,
    size: r.size,
    env: sealedValues.from(r.env) as Record<string, string>,
    autoscaleMin: r.autoscale_min,
    autoscaleMax: r.autoscale_max,
    autoscaleTarget: r.autoscale_target,
    idleAfterSeconds: r.idle_after_seconds,
    lastScaledAt: r.last_scaled_at,
    activeDeploymentId: r.active_deployment_id,
    health: r.health,
    securityOverride: r.security_override,
    services: r.services,
    degraded: r.degraded,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });

export const CARTRIDGE_FIELDS = 'c.id, c.app_id, c.cartridge, c.generated, c.options, c.superseded_by, c.created_at';

export interface CartridgeRow {
  id: string;
  app_id: string;
  cartridge: string;
  generated: Record<string, string>;
  options: AppCartridge['options'];
  superseded_by: string | null;
  created_at: Date;
}

export const cartridgeOf = (r: CartridgeRow): AppCartridge =>
  Object.assign(new AppCartridge(), {
    id: r.id,
    appId: r.app_id,
    cartridge: r.cartridge,
    generated: sealedValues.from(r.generated) as Record<string, string>,
    options: r.options,
    supersededBy: r.superseded_by,
    createdAt: r.created_at,
  });

export const GEAR_FIELDS =
  'g.id, g.app_id, g.cartridge, g.node_id, g.memory_mb, g.generation, g.epoch, g.deployment_id, g.process, g.service, g.state, g.ports, g.inside, ' +
  'g.container_id, g.message, g.created_at, g.updated_at';

export interface GearRow {
  id: string;
  app_id: string;
  cartridge: string;
  node_id: string;
  memory_mb: number;
  generation: number;
  epoch: number;
  deployment_id: string | null;
  process: string | null;
  service: string | null;
  state: Gear['state'];
  ports: Record<string, number>;
  inside: Gear['inside'];
  container_id: string | null;
  message: string | null;
  created_at: Date;
  updated_at: Date;
}

export const gearOf = (r: GearRow): Gear =>
  Object.assign(new Gear(), {
    id: r.id,
    appId: r.app_id,
    cartridge: r.cartridge,
    nodeId: r.node_id,
    memoryMb: r.memory_mb,
    generation: r.generation,
    epoch: r.epoch,
    deploymentId: r.deployment_id,
    process: r.process,
    service: r.service,
    state: r.state,
    ports: r.ports,
    inside: r.inside,
    containerId: r.container_id,
    message: r.message,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });
