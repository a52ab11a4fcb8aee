import { Global, Module } from '@nestjs/common';
import { AppsModule } from './apps/apps.module';
import { AuditDomains } from './audit/audit-domains';
import { AppsRepository } from './apps/apps.repository';
import { NodeAddresses } from './apps/node-addresses';
import { CartridgesInUse } from './cartridges/cartridges-in-use';
import { DomainApps } from './domains/domain-apps';
import { DomainsModule } from './domains/domains.module';
import { DomainsRepository } from './domains/domains.repository';
import { FleetModule } from './fleet/fleet.module';
import { NodesRepository } from './fleet/nodes.repository';
import { NodePublicKeys } from './queue/node-public-keys';
import { TeamsModule } from './teams/teams.module';
import { TeamsRepository } from './teams/teams.repository';

/**
 * Questions a lower room asks of a higher one (how many apps a domain holds, which cartridges apps use, where the
 * nodes are, which key seals a node's secrets), each declared by the room that asks and answered here by the higher room's repository.
 */
@Global()
@Module({
  imports: [AppsModule, FleetModule, DomainsModule, TeamsModule],
  providers: [
    { provide: DomainApps, useExisting: AppsRepository },
    { provide: CartridgesInUse, useExisting: AppsRepository },
    { provide: NodeAddresses, useExisting: NodesRepository },
    { provide: NodePublicKeys, useExisting: NodesRepository },
    // Whose events a user may read besides their own: those on the domains of the teams they own.
    {
      provide: AuditDomains,
      useFactory: (teams: TeamsRepository, domains: DomainsRepository): AuditDomains => ({
        visibleTo: async (user) => {
          const owned = (await teams.listFor(user.id, false)).filter((t) => t.role === 'owner').map((t) => t.team.id);
          return owned.length > 0 ? (await domains.list(owned)).map((d) => ({ name: d.name, since: d.createdAt })) : [];
        },
      }),
      inject: [TeamsRepository, DomainsRepository],
    },
  ],
  exports: [DomainApps, CartridgesInUse, NodeAddresses, NodePublicKeys, AuditDomains],
})
export class SeamsModule {}
