import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isCompositeType,
  isListType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { argumentAt, callGroupOf, callsPerCall, type FieldLimit, type FieldLimits } from './field-limits.js';

/** Nodes an operation may return per point of cost: a plain operation costs 1 point, as in GitHub's model. */
export const NODES_PER_POINT = 100;

export interface CostOptions {
  /** The page size of a list whose slicing argument is left out. */
  defaultPageSize: number;
  /** The largest page size a slicing argument is counted for (larger ones are refused by the field). */
  maxPageSize: number;
}

/** Calls of one rate-limited field that share their counts (same field, same identity values). */
export interface LimitedCalls {
  /** What the executing field takes its allowance from (see `callGroupOf`). */
  group: string;
  limits: readonly FieldLimit[];
  /** The values of each limit's identity arguments, for its key. */
  args: Record<string, unknown>;
  /** How many calls the operation may make. */
  count: number;
}

/** What an operation may cost, known before it runs. */
export interface OperationCost {
  /** The weighted count of the values it may return. */
  nodes: number;
  /** Points spent from the budget: nodes per NODES_PER_POINT, rounded up, at least 1. */
  points: number;
  limitedCalls: LimitedCalls[];
  /** Every root field is rate-limited: when all their calls are refused, nothing of the operation is left to run. */
  onlyLimitedRoots: boolean;
}

const FLAT: OperationCost = { nodes: 0, points: 1, limitedCalls: [], onlyLimitedRoots: false };

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  options: CostOptions;
  limits: FieldLimits;
  /** Each fragment's tally, by fragment and the list sizes it was given: a fragment spread many times is walked once. */
  tallies: Map<string, Tally>;
  /** Fragments being walked, so that a cyclic one (refused later by validation) is not walked forever. */
  open: Set<string>;
}

/** What a selection costs for one value of its parent: the nodes, and the calls of limited fields. */
interface Tally {
  nodes: number;
  calls: Map<string, LimitedCalls>;
}

const emptyTally = (): Tally => ({ nodes: 0, calls: new Map() });

/** Adds `times` copies of `source` to `target`: costs and calls grow linearly with the values above them. */
function addTally(target: Tally, source: Tally, times: number): void {
  target.nodes += source.nodes * times;
  for (const [group, call] of source.calls) {
    const known = target.calls.get(group);
    if (known) known.count += call.count * times;
    else target.calls.set(group, { ...call, count: call.count * times });
  }
}

/**
 * The cost of an operation from its document and variables, before anything runs: each field
 * that returns an object counts 1 per value (its `@cost` weight when it has one), times the
 * sizes of the lists above it, a list's size being its slicing argument (`first`, or the page
 * size when left out) or its `@listSize`. The calls of each rate-limited field are counted the
 * same way: an alias, or a list item, that calls the field is a call. An invalid document costs
 * a flat point; validation then refuses it. The walk is linear in the document's size: each
 * fragment is tallied once per list sizes, however often it is spread.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode | null,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: FieldLimits,
  options: CostOptions,
): OperationCost {
  if (!document) return FLAT;
  const operation = operationOf(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return FLAT;
  // Coerced as execution will coerce them, defaults included: `$first: Int = 100` counts 100.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return FLAT;
  const walk: Walk = {
    schema,
    fragments: new Map(
      document.definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION).map((fragment) => [fragment.name.value, fragment]),
    ),
    variables: coerced.coerced,
    options,
    limits,
    tallies: new Map(),
    open: new Set(),
  };
  const tally = tallySelection(walk, root, operation.selectionSet, new Map());
  const roots = rootFieldNames(walk, operation.selectionSet);
  roots.delete('__typename');
  return {
    nodes: tally.nodes,
    points: Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, Math.ceil(tally.nodes / NODES_PER_POINT))),
    limitedCalls: [...tally.calls.values()],
    onlyLimitedRoots: roots.size > 0 && [...roots].every((name) => limits.has(`${root.name}.${name}`)),
  };
}

function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | null {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((operation) => operation.name?.value === operationName) ?? null;
  return operations.length === 1 ? operations[0]! : null;
}

/** The names of the fields a selection set selects, through its fragments (each visited once). */
function rootFieldNames(walk: Walk, selectionSet: SelectionSetNode, names = new Set<string>(), seen = new Set<string>()): Set<string> {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) names.add(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) rootFieldNames(walk, selection.selectionSet, names, seen);
    else {
      const fragment = walk.fragments.get(selection.name.value);
      if (!fragment || seen.has(fragment.name.value)) continue;
      seen.add(fragment.name.value);
      rootFieldNames(walk, fragment.selectionSet, names, seen);
    }
  }
  return names;
}

/**
 * A selection set's tally for one value of `parent`; `sized` gives the sizes of the lists a
 * connection's slicing argument sets (its edges). Fragments on other types are counted too, as
 * if every value matched: an upper bound.
 */
function tallySelection(walk: Walk, parent: GraphQLCompositeType, selectionSet: SelectionSetNode, sized: Map<string, number>): Tally {
  const tally = emptyTally();
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? walk.schema.getType(selection.typeCondition.name.value) : parent;
      if (type && isCompositeType(type)) addTally(tally, tallySelection(walk, type, selection.selectionSet, sized), 1);
    } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
      addTally(tally, tallyFragment(walk, selection.name.value, sized), 1);
    } else {
      addTally(tally, tallyField(walk, parent, selection, sized), 1);
    }
  }
  return tally;
}

function tallyFragment(walk: Walk, name: string, sized: Map<string, number>): Tally {
  const key = `${name}\0${[...sized].join(',')}`;
  const known = walk.tallies.get(key);
  if (known) return known;
  const fragment = walk.fragments.get(name);
  const type = fragment && walk.schema.getType(fragment.typeCondition.name.value);
  if (!fragment || !type || !isCompositeType(type) || walk.open.has(name)) return emptyTally();
  walk.open.add(name);
  const tally = tallySelection(walk, type, fragment.selectionSet, sized);
  walk.open.delete(name);
  walk.tallies.set(key, tally);
  return tally;
}

function tallyField(walk: Walk, parent: GraphQLCompositeType, node: FieldNode, sized: Map<string, number>): Tally {
  const tally = emptyTally();
  const name = node.name.value;
  if (name.startsWith('__')) {
    // Introspection is bounded by the schema, not by the data, but a whole schema is about a
    // point's worth of output: aliased many times, it costs as much.
    if (name === '__schema') tally.nodes = NODES_PER_POINT;
    else if (name === '__type') tally.nodes = NODES_PER_POINT / 10;
    return tally;
  }
  // Unions have no fields of their own (only __typename, above).
  const field = 'getFields' in parent ? parent.getFields()[name] : undefined;
  if (!field) return tally;
  const args = argumentsOf(field, node, walk.variables);
  const coordinate = `${parent.name}.${name}`;
  const limits = walk.limits.get(coordinate);
  if (limits && args) {
    const group = callGroupOf(coordinate, limits, args);
    tally.calls.set(group, { group, limits, args, count: callsPerCall(limits, args) });
  }

  const type = getNamedType(field.type);
  const { weight, listSize, isList } = declaredCost(walk.schema, field);
  const size = isList ? (sized.get(name) ?? sizeFrom(walk, listSize, args)) : 1;
  tally.nodes = weight * size;
  if (!node.selectionSet || !isCompositeType(type)) return tally;
  const childSizes = new Map<string, number>();
  if (listSize?.sizedFields?.length) {
    const childSize = sizeFrom(walk, listSize, args);
    for (const child of listSize.sizedFields) childSizes.set(child, childSize);
  }
  addTally(tally, tallySelection(walk, type, node.selectionSet, childSizes), size);
  return tally;
}

/** The field's arguments as the resolver will see them; null when they do not coerce (validation refuses those). */
function argumentsOf(field: GraphQLField<unknown, unknown>, node: FieldNode, variables: Record<string, unknown>): Record<string, unknown> | null {
  try {
    return getArgumentValues(field, node, variables);
  } catch {
    return null;
  }
}

interface ListSize {
  assumedSize?: number;
  slicingArguments?: string[];
  sizedFields?: string[];
}

interface DeclaredCost {
  weight: number;
  listSize: ListSize | null;
  isList: boolean;
}

/** Fields' costs as the SDL declares them, read once per field (the schema does not change). */
const declared = new WeakMap<GraphQLField<unknown, unknown>, DeclaredCost>();

function declaredCost(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>): DeclaredCost {
  let known = declared.get(field);
  if (!known) {
    const type = getNamedType(field.type);
    const cost = schema.getDirective('cost');
    const listSize = schema.getDirective('listSize');
    const onField = cost && field.astNode ? getDirectiveValues(cost, field.astNode) : undefined;
    const onType = cost && type.astNode ? getDirectiveValues(cost, type.astNode) : undefined;
    known = {
      weight: (onField?.['weight'] ?? onType?.['weight'] ?? (isCompositeType(type) ? 1 : 0)) as number,
      listSize: (listSize && field.astNode ? (getDirectiveValues(listSize, field.astNode) as ListSize | undefined) : undefined) ?? null,
      isList: isListType(getNullableType(field.type)),
    };
    declared.set(field, known);
  }
  return known;
}

/**
 * A list's size: the largest of its slicing arguments given (a number, or the length of a list
 * such as nodes' ids; at most the page size limit), else the default page size or its assumed size.
 */
function sizeFrom(walk: Walk, listSize: ListSize | null, args: Record<string, unknown> | null): number {
  const { defaultPageSize, maxPageSize } = walk.options;
  if (listSize?.slicingArguments?.length) {
    const given = listSize.slicingArguments
      .map((path) => (args ? argumentAt(args, path) : undefined))
      .map((value) => (Array.isArray(value) ? value.length : value))
      .filter((value): value is number => typeof value === 'number');
    if (given.length === 0) return defaultPageSize;
    return Math.min(maxPageSize, Math.max(0, ...given));
  }
  return listSize?.assumedSize ?? 1;
}
