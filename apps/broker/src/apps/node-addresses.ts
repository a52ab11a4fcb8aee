/**
 * The address of each node, by node id, for gears that reach services on other nodes. The node model answers (its
 * repository is bound to this class); it stands on the app model, so the app model asks through this seam.
 */
export abstract class NodeAddresses {
  abstract addresses(): Promise<Map<string, string>>;
}
