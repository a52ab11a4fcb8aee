import { InitialSchema1732300000000 } from './1732300000000-initial-schema';
import { Aliases1732400000000 } from './1732400000000-aliases';
import { AutoscaleIdle1732500000000 } from './1732500000000-autoscale-idle';
import { NodeAddress1732600000000 } from './1732600000000-node-address';
import { Deployments1732700000000 } from './1732700000000-deployments';
import { CartridgeOptions1732800000000 } from './1732800000000-cartridge-options';
import { GearInsideAddress1732900000000 } from './1732900000000-gear-inside-address';
import { AppHealth1733040000000 } from './1733040000000-app-health';
import { NodeIdentity1733100000000 } from './1733100000000-node-identity';
import { Accounts1733200000000 } from './1733200000000-accounts';
import { Teams1733300000000 } from './1733300000000-teams';
import { Audit1733400000000 } from './1733400000000-audit';
import { NodeSealing1733500000000 } from './1733500000000-node-sealing';
import { AppSecurity1733600000000 } from './1733600000000-app-security';
import { Processes1733720000000 } from './1733720000000-processes';
import { NodeLoss1733800000000 } from './1733800000000-node-loss';
import { NodeZones1733810000000 } from './1733810000000-node-zones';
import { Cron1733830000000 } from './1733830000000-cron';
import { CartridgeUpgrades1733840000000 } from './1733840000000-cartridge-upgrades';
import { Services1733850000000 } from './1733850000000-services';
import { OperationHistoryIndex1733869000000 } from './1733869000000-operation-history-index';
import { ServiceHosts1733910000000 } from './1733910000000-service-hosts';
import { CronRunService1733911000000 } from './1733911000000-cron-run-service';
import { OperationEndedIndex1733921000000 } from './1733921000000-operation-ended-index';
import { AppVersions1733952000000 } from './1733952000000-app-versions';
import { OperationSteps1733953000000 } from './1733953000000-operation-steps';
import { PlacementCheck1733953500000 } from './1733953500000-placement-check';

/** Every migration, oldest first. A new migration is added here and reviewed like any other code. */
export const MIGRATIONS = [
  InitialSchema1732300000000,
  Aliases1732400000000,
  AutoscaleIdle1732500000000,
  NodeAddress1732600000000,
  Deployments1732700000000,
  CartridgeOptions1732800000000,
  GearInsideAddress1732900000000,
  AppHealth1733040000000,
  NodeIdentity1733100000000,
  Accounts1733200000000,
  Teams1733300000000,
  Audit1733400000000,
  NodeSealing1733500000000,
  AppSecurity1733600000000,
  Processes1733720000000,
  NodeLoss1733800000000,
  NodeZones1733810000000,
  Cron1733830000000,
  CartridgeUpgrades1733840000000,
  Services1733850000000,
  OperationHistoryIndex1733869000000,
  ServiceHosts1733910000000,
  CronRunService1733911000000,
  OperationEndedIndex1733921000000,
  AppVersions1733952000000,
  OperationSteps1733953000000,
  PlacementCheck1733953500000,
];
