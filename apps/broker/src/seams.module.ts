import { Global, Module } from '@nestjs/common';
import { AppsModule } from './apps/apps.module';
import { AuditDomains } from './audit/audit-domains';
import { AppsRepository } from './apps/apps.repository';
import { NodeAddresses } from './apps/node-addresses';
import { CartridgesInUse } from './cartridges/cartridges-in-use';
import { DomainApps } from './domains/domain-apps';
import { DomainsModule } from './domains/domains.module';
import { DomainsService } from './domains/domains.service';
import { FleetModule } from './fleet/fleet.module';
import { NodesRepository } from './fleet/nodes.repository';
import { NodePublicKeys } from './queue/node-public-keys';

/**
 * Questions a lower room asks of a higher one (how many apps a domain holds, which cartridges apps use, where the
 * nodes are, which key seals a node's secrets), each declared by the room that asks and answered here by the higher room's repository.
 */
@Global()
@Module({
  imports: [AppsModule, FleetModule, DomainsModule],
  providers: [
    { provide: DomainApps, useExisting: AppsRepository },
    { provide: CartridgesInUse, useExisting: AppsRepository },
    { provide: NodeAddresses, useExisting: NodesRepository },
    { provide: NodePublicKeys, useExisting: NodesRepository },
    // Whose events a user may read: those on the domains the domains room lets them see.
    {
      provide: AuditDomains,
      useFactory: (domains: DomainsService): AuditDomains => ({
        visibleTo: async (user) => (await domains.list(user)).map((d) => ({ name: d.name, since: d.createdAt })),
      }),
      inject: [DomainsService],
    },
  ],
  exports: [DomainApps, CartridgesInUse, NodeAddresses, NodePublicKeys, AuditDomains],
})
export class SeamsModule {}
