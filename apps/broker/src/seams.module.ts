import { Global, Module } from '@nestjs/common';
import { AppsModule } from './apps/apps.module';
import { AppsRepository } from './apps/apps.repository';
import { NodeAddresses } from './apps/node-addresses';
import { CartridgesInUse } from './cartridges/cartridges-in-use';
import { DomainApps } from './domains/domain-apps';
import { FleetModule } from './fleet/fleet.module';
import { NodesRepository } from './fleet/nodes.repository';

/**
 * Questions a lower room asks of a higher one (how many apps a domain holds, which cartridges apps use, where the
 * nodes are), each declared by the room that asks and answered here by the higher room's repository.
 */
@Global()
@Module({
  imports: [AppsModule, FleetModule],
  providers: [
    { provide: DomainApps, useExisting: AppsRepository },
    { provide: CartridgesInUse, useExisting: AppsRepository },
    { provide: NodeAddresses, useExisting: NodesRepository },
  ],
  exports: [DomainApps, CartridgesInUse, NodeAddresses],
})
export class SeamsModule {}
