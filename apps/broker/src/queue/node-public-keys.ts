/** Where the queue finds the public key a node's secrets are sealed for (answered by the fleet, see seams.module.ts). */
export abstract class NodePublicKeys {
  abstract publicKey(nodeId: string): Promise<string | null>;
}
