import { Global, Module } from '@nestjs/common';
import { AppsModule } from './apps/apps.module';
import { AppsRepository } from './apps/apps.repository';
import { NodeAddresses } from './apps/node-addresses';
import { CartridgesInUse } from './cartridges/cartridges-in-use';
import { DomainApps } from './domains/domain-apps';
import { FleetModule } from './fleet/fleet.module';
import { NodesRepository } from './fleet/nodes.repository';
import { NodePublicKeys } from './queue/node-public-keys';

/**
 * Questions a lower room asks of a higher one (how many apps a domain holds, which cartridges apps use, where the
 * nodes are, which key seals a node's secrets), each declared by the room that asks and answered here by the higher room's repository.
 */
@Global()
@Module({
  imports: [AppsModule, FleetModule],
  providers: [
    { provide: DomainApps, useExisting: AppsRepository },
    { provide: CartridgesInUse, useExisting: AppsRepository },
    { provide: NodeAddresses, useExisting: NodesRepository },
    { provide: NodePublicKeys, useExisting: NodesRepository },
  ],
  exports: [DomainApps, CartridgesInUse, NodeAddresses, NodePublicKeys],
})
export class SeamsModule {}
