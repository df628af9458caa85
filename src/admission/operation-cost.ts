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
  calls: Map<string, LimitedCalls>;
  nodes: number;
  /** Fragments being walked, so that a cyclic one (refused later by validation) is not walked forever. */
  open: Set<string>;
}

/**
 * The cost of an operation from its document and variables, before anything runs: each field
 * that returns an object counts 1 per value (its `@cost` weight when it has one), times the
 * sizes of the lists above it, a list's size being its slicing argument (`first`, or the page
 * size when left out) or its `@listSize`. The calls of each rate-limited field are counted the
 * same way: an alias, or a list item, that calls the field is a call. An invalid document costs
 * a flat point; validation then refuses it.
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
    calls: new Map(),
    nodes: 0,
    open: new Set(),
  };
  const rootFields: FieldNode[] = [];
  collectFields(walk, operation.selectionSet, rootFields);
  walkSelection(walk, root, operation.selectionSet, 1, new Map());
  const named = rootFields.filter((field) => field.name.value !== '__typename');
  return {
    nodes: walk.nodes,
    points: Math.max(1, Math.ceil(walk.nodes / NODES_PER_POINT)),
    limitedCalls: [...walk.calls.values()],
    onlyLimitedRoots: named.length > 0 && named.every((field) => limits.has(`${root.name}.${field.name.value}`)),
  };
}

function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | null {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((operation) => operation.name?.value === operationName) ?? null;
  return operations.length === 1 ? operations[0]! : null;
}

/** The fields a selection set selects, through its fragments (for the root's fields). */
function collectFields(walk: Walk, selectionSet: SelectionSetNode, into: FieldNode[]): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) into.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) collectFields(walk, selection.selectionSet, into);
    else {
      const fragment = walk.fragments.get(selection.name.value);
      if (!fragment || walk.open.has(fragment.name.value)) continue;
      walk.open.add(fragment.name.value);
      collectFields(walk, fragment.selectionSet, into);
      walk.open.delete(fragment.name.value);
    }
  }
}

/**
 * Adds up a selection set's cost. `times` is how many values of `parent` there may be;
 * `sized` gives the sizes of the lists a connection's slicing argument sets (its edges).
 * Fragments on other types are counted too, as if every value matched: an upper bound.
 */
function walkSelection(walk: Walk, parent: GraphQLCompositeType, selectionSet: SelectionSetNode, times: number, sized: Map<string, number>): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? walk.schema.getType(selection.typeCondition.name.value) : parent;
      if (type && isCompositeType(type)) walkSelection(walk, type, selection.selectionSet, times, sized);
      continue;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = walk.fragments.get(selection.name.value);
      const type = fragment && walk.schema.getType(fragment.typeCondition.name.value);
      if (!fragment || !type || !isCompositeType(type) || walk.open.has(fragment.name.value)) continue;
      walk.open.add(fragment.name.value);
      walkSelection(walk, type, fragment.selectionSet, times, sized);
      walk.open.delete(fragment.name.value);
      continue;
    }
    walkField(walk, parent, selection, times, sized);
  }
}

function walkField(walk: Walk, parent: GraphQLCompositeType, node: FieldNode, times: number, sized: Map<string, number>): void {
  const name = node.name.value;
  if (name.startsWith('__')) {
    // Introspection: a flat node; its size is bounded by the schema, not by the data.
    if (name !== '__typename') walk.nodes += times;
    return;
  }
  // Unions have no fields of their own (only __typename, above).
  const field = 'getFields' in parent ? parent.getFields()[name] : undefined;
  if (!field) return;
  const args = argumentsOf(field, node, walk.variables);
  const coordinate = `${parent.name}.${name}`;
  const limits = walk.limits.get(coordinate);
  if (limits && args) countCalls(walk, coordinate, limits, args, times);

  const type = getNamedType(field.type);
  const { weight, listSize, isList } = declaredCost(walk.schema, field);
  const size = isList ? (sized.get(name) ?? sizeFrom(walk, listSize, args)) : 1;
  const values = times * size;
  walk.nodes += weight * values;
  if (!node.selectionSet || !isCompositeType(type)) return;
  const childSizes = new Map<string, number>();
  if (listSize?.sizedFields?.length) {
    const childSize = sizeFrom(walk, listSize, args);
    for (const child of listSize.sizedFields) childSizes.set(child, childSize);
  }
  walkSelection(walk, type, node.selectionSet, values, childSizes);
}

function countCalls(walk: Walk, coordinate: string, limits: readonly FieldLimit[], args: Record<string, unknown>, times: number): void {
  const group = callGroupOf(coordinate, limits, args);
  const count = times * callsPerCall(limits, args);
  const known = walk.calls.get(group);
  if (known) known.count += count;
  else walk.calls.set(group, { group, limits, args, count });
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

/** A list's size: the largest of its slicing arguments given (at most the page size limit), else the default page size or its assumed size. */
function sizeFrom(walk: Walk, listSize: ListSize | null, args: Record<string, unknown> | null): number {
  const { defaultPageSize, maxPageSize } = walk.options;
  if (listSize?.slicingArguments?.length) {
    const given = listSize.slicingArguments.map((path) => (args ? argumentAt(args, path) : undefined)).filter((value): value is number => typeof value === 'number');
    if (given.length === 0) return defaultPageSize;
    return Math.min(maxPageSize, Math.max(0, ...given));
  }
  return listSize?.assumedSize ?? 1;
}
