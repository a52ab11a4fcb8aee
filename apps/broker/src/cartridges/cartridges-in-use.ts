/**
 * The cartridges some app embeds, which a new catalogue must keep. The apps room answers (its repository is bound to
 * this class), so the catalogue need not know the app model that stands on it.
 */
export abstract class CartridgesInUse {
  abstract cartridgesInUse(): Promise<Set<string>>;
}
