import { MAX_VALUES, SchemaViolationError, type Violation } from './validation';

/** The largest YAML document read (a gearshift.yml, a compose file, a manifest): far above any real one. */
export const MAX_YAML_BYTES = 256 * 1024;
/**
 * How many nodes (scalars, keys included, aliases and flow collections) a YAML document may hold. A document within
 * MAX_VALUES values has at most about twice as many nodes, its keys being the rest.
 */
export const MAX_YAML_NODES = 2 * MAX_VALUES;
/** The first character of a token that is a node of its own: a quoted scalar, an alias, a flow map or sequence. */
const NODE_STARTS = new Set(['"', "'", '*', '{', '[']);

/** How deep a YAML document's flow collections (`[…]`, `{…}`) may nest, and its values once parsed. */
export const MAX_YAML_DEPTH = 32;

/** How many aliases a YAML document may write, and how many the yaml package may expand. */
export const MAX_YAML_ALIASES = 100;

/**
 * How many anchors (&name) and how many tags (!tag) a YAML document may write: a few in a real compose file, and each
 * one too many on a node is an error of its own for the parser.
 */
export const MAX_YAML_ANCHORS = 100;
export const MAX_YAML_TAGS = 100;

/**
 * A YAML document too large to read: refused before the document is built, whose nodes take many times the memory
 * of their text. The broker answers it 422, a rule the document breaks rather than a field.
 */
export class YamlLimitError extends SchemaViolationError {
  constructor(subject: string, violation: Violation) {
    super(subject, [violation]);
    this.name = 'YamlLimitError';
  }
}

/**
 * What makes `text` too large to parse, if anything: its size in bytes, then its nodes, aliases, anchors and tags as the yaml
 * package's lexer counts them. The lexer hands out one token at a time and keeps none, so counting costs little
 * memory, and it stops at the first limit passed.
 */
export function yamlLimitViolation(text: string): Violation | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_YAML_BYTES) return { pointer: '', rule: 'yaml-size', message: `is ${bytes} bytes of YAML; at most ${MAX_YAML_BYTES} are read` };
  const { Lexer, CST } = require('yaml') as typeof import('yaml');
  let nodes = 0;
  let aliases = 0;
  let anchors = 0;
  let tags = 0;
  // A plain or block scalar comes as a marker and then its text; a quoted one, an alias or a flow collection's start
  // as one token whose first character says what it is.
  let inScalar = false;
  // The parser builds nested flow collections by recursion: a deep one is refused before it can take the stack.
  let flowDepth = 0;
  for (const token of new Lexer().lex(text)) {
    const content = inScalar;
    inScalar = token === CST.SCALAR;
    if (content) continue;
    if (token === '[' || token === '{') {
      if (++flowDepth > MAX_YAML_DEPTH) return { pointer: '', rule: 'yaml-depth', message: `nests [ ] and { } deeper than ${MAX_YAML_DEPTH} levels` };
    } else if (token === ']' || token === '}') {
      // Each closer of nothing is an error of its own for the parser, whose errors cost more than their text.
      if (flowDepth === 0) return { pointer: '', rule: 'yaml', message: `is not valid YAML: a ${token} closes no [ or { opened before it` };
      flowDepth--;
    }
    const node = inScalar || NODE_STARTS.has(token[0]);
    if (token[0] === '*' && ++aliases > MAX_YAML_ALIASES)
      return { pointer: '', rule: 'yaml-aliases', message: `writes more than ${MAX_YAML_ALIASES} aliases (*name)` };
    if (token[0] === '&' && ++anchors > MAX_YAML_ANCHORS)
      return { pointer: '', rule: 'yaml-anchors', message: `writes more than ${MAX_YAML_ANCHORS} anchors (&name)` };
    if (token[0] === '!' && ++tags > MAX_YAML_TAGS) return { pointer: '', rule: 'yaml-tags', message: `writes more than ${MAX_YAML_TAGS} tags (!tag)` };
    if (node && ++nodes > MAX_YAML_NODES) return { pointer: '', rule: 'yaml-nodes', message: `holds more than ${MAX_YAML_NODES} YAML nodes` };
  }
  return undefined;
}

/** Throws a YamlLimitError naming `subject` when `text` is too large to parse (see yamlLimitViolation). */
export function checkYamlLimits(text: string, subject: string): void {
  const violation = yamlLimitViolation(text);
  if (violation) throw new YamlLimitError(subject, violation);
}

/**
 * Parses one YAML document within MAX_YAML_ALIASES expanded aliases (`merge`: `<<` keys merge maps, as compose files
 * use them). A broken document throws its first error, with its line and column. Only that error is placed in the
 * text: the yaml package would place every one of them, each by a copy of its line, and a long line of many errors
 * costs the square of its length.
 */
export function readYaml(text: string, opts: { merge?: boolean } = {}): unknown {
  const { LineCounter, parseDocument } = require('yaml') as typeof import('yaml');
  const lines = new LineCounter();
  const doc = parseDocument(text, { merge: opts.merge ?? false, prettyErrors: false, lineCounter: lines });
  const [first] = doc.errors;
  if (first) {
    if (first.pos[0] >= 0) {
      const at = lines.linePos(first.pos[0]);
      first.linePos = [at];
      first.message += ` at line ${at.line}, column ${at.col}`;
    }
    throw first;
  }
  return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
}
