/** Docker labels that say what a container, network or volume is, and who manages it. */
export const LABELS = {
  managedBy: 'gearshift.managed-by',
  instance: 'gearshift.instance',
  node: 'gearshift.node',
  app: 'gearshift.app',
  appName: 'gearshift.app-name',
  domain: 'gearshift.domain',
  gear: 'gearshift.gear',
  cartridge: 'gearshift.cartridge',
  process: 'gearshift.process',
  service: 'gearshift.service',
  specHash: 'gearshift.spec-hash',
  cartridgeHash: 'gearshift.cartridge-hash',
  /** On a service's release image: the hash of what it was built from (see the builder's buildInputsHash). */
  buildInputs: 'gearshift.build-inputs',
  /** The gear assignment a container was made for (see NodeJobs['node.fence']). */
  epoch: 'gearshift.epoch',
} as const;
