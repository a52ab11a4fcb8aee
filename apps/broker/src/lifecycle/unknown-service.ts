import { ruleViolation } from '../common/errors';

/** The 422 for a service that `owner` (an app, a release) does not have, naming those it has. */
export function unknownService(pointer: string, owner: string, service: string, names: readonly string[]) {
  return ruleViolation(pointer, 'known-service', `${owner} has no service ${service}${names.length ? `; it has ${names.join(', ')}` : ''}`);
}
