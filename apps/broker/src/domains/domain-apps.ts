/**
 * How many apps a domain holds. The apps room answers (its repository is bound to this class), so domains need not
 * know the app model that stands on them.
 */
export abstract class DomainApps {
  abstract countInDomain(domainId: string): Promise<number>;
}
