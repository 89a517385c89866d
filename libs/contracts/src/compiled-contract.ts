import { getMetadataStorage, ValidationTypes, type ValidationArguments } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import type { Constructor } from './validation';

/**
 * Fast validation of the common, valid case. class-validator walks its metadata, builds a
 * ValidationError per property and class-transformer copies every value, on every message:
 * most of an agent's CPU. A CompiledContract is built once per class from that same metadata
 * and answers one question — "would `plainToInstance` + `validateSync` accept the JSON form of
 * this value?" — with yes, or "not sure". Fields the class does not declare are neither checked
 * nor refused, and decode as they came (`validatePlain(..., 'keep')`, as events are validated:
 * see validation.ts).
 * "Not sure" covers every invalid value and anything unusual; the caller then runs
 * class-validator itself, so error messages and field paths never change. A class using a
 * decorator or a class-transformer feature this compiler does not know gets no compiled
 * contract at all.
 *
 * Values are judged as they serialise (`JSON.stringify`): an `undefined` property is absent;
 * objects with `toJSON` (Date), boxed primitives, functions, non-finite numbers and objects of
 * unknown classes are "not sure". So a value accepted before publishing is accepted on the wire.
 */
export interface CompiledContract<T extends object> {
  /** true only if class-validator would accept the JSON form of `value`; false: invalid or not sure. */
  accepts(value: unknown): boolean;
  /** What `plainToInstance` builds from a JSON value `accepts` said yes to (class instances, same keys, unknown ones too). */
  materialize(plain: object): T;
}

/**
 * class-transformer drops (or fails on) keys named like Object.prototype's members anywhere in a
 * value, and a JSON `\u` escape can spell such a key: texts containing either are left to the
 * class-transformer path, which knows what to do with them.
 */
const KEYS_CLASS_TRANSFORMER_SKIPS = new RegExp(
  [...Object.getOwnPropertyNames(Object.prototype), '\\\\u'].map((name) => name.replace(/[$]/g, '\\$&')).join('|'),
);

/** Whether a JSON text may take the compiled path (see KEYS_CLASS_TRANSFORMER_SKIPS). */
export function jsonFitsCompiledPath(json: string): boolean {
  return !KEYS_CLASS_TRANSFORMER_SKIPS.test(json);
}

/** The part of class-transformer's (0.5) metadata storage read here; it is not in its public API. */
interface TypeMetadataStorage {
  findTypeMetadata(target: object, propertyName: string): TypeMetadata | undefined;
  findTransformMetadatas(target: object, propertyName: string, transformationType: number): readonly unknown[];
  getExposedMetadatas(target: object): readonly unknown[];
  getExcludedMetadatas(target: object): readonly unknown[];
}

interface TypeMetadata {
  readonly typeFunction: () => unknown;
  readonly reflectedType: unknown;
  readonly options?: {
    readonly discriminator?: {
      readonly property: string;
      readonly subTypes: readonly { readonly name: string; readonly value: unknown }[];
    };
    readonly keepDiscriminatorProperty?: boolean;
  };
}

const transformerStorage = (require('class-transformer/cjs/storage') as { defaultMetadataStorage: TypeMetadataStorage })
  .defaultMetadataStorage;
const PLAIN_TO_CLASS = 0; // class-transformer's TransformationType.PLAIN_TO_CLASS

/** class-validator constraints whose verdict depends only on the value and the decorator's arguments. */
const PURE_CONSTRAINTS = new Set([
  'isString',
  'isNotEmpty',
  'isInt',
  'min',
  'max',
  'matches',
  'isObject',
  'isArray',
  'arrayMinSize',
  'arrayMaxSize',
  'maxLength',
  'minLength',
  'isLength',
  'isIn',
  'isBoolean',
  'isNumber',
  'isIso8601',
]);

interface ConstraintCheck {
  readonly test: (value: unknown) => boolean;
  readonly each: boolean;
}

interface NestedType {
  readonly base: ClassPlan;
  readonly discriminator?: { readonly property: string; readonly subTypes: ReadonlyMap<string, ClassPlan> };
}

interface PropertyPlan {
  readonly name: string;
  readonly optional: boolean;
  readonly defined: boolean;
  readonly checks: readonly ConstraintCheck[];
  /** ValidateNested: resolved on first use (contract classes refer to each other, and to themselves). */
  readonly nested?: { readonly each: boolean; resolve(): NestedType | undefined };
}

interface ClassPlan {
  readonly cls: Constructor<object>;
  readonly properties: readonly PropertyPlan[];
  readonly byName: ReadonlyMap<string, PropertyPlan>;
}

/** Prototypes whose instances serialise as their own enumerable properties (no toJSON, no getters). */
const plainPrototypes = new Set<object | null>([Object.prototype, null]);
const plans = new Map<Constructor<object>, ClassPlan | null>();

/** The compiled contract of `cls`, or undefined if it uses something the compiler does not know. */
export function compiledContract<T extends object>(cls: Constructor<T>): CompiledContract<T> | undefined {
  const plan = planOf(cls);
  if (!plan) return undefined;
  return {
    accepts: (value) => acceptsObject(plan, value),
    materialize: (plain) => materializeObject(plan, plain as Record<string, unknown>) as T,
  };
}

function planOf(cls: Constructor<object>): ClassPlan | undefined {
  if (plans.has(cls)) return plans.get(cls) ?? undefined;
  plans.set(cls, null); // a class nesting itself sees "not compiled" until this one is done
  const plan = compile(cls);
  plans.set(cls, plan ?? null);
  if (plan) plainPrototypes.add(cls.prototype);
  return plan;
}

function compile(cls: Constructor<object>): ClassPlan | undefined {
  // The same metadata validateSync uses for an instance of cls (inherited, deduplicated, no groups).
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(cls, '', false, false, undefined);
  if (metadatas.length === 0) return undefined; // forbidUnknownValues: class-validator refuses it
  if (transformerStorage.getExposedMetadatas(cls).length > 0 || transformerStorage.getExcludedMetadatas(cls).length > 0)
    return undefined;
  if (!hasOnlyFields(cls)) return undefined;
  const grouped = new Map<string, ValidationMetadata[]>();
  for (const m of metadatas) grouped.set(m.propertyName, [...(grouped.get(m.propertyName) ?? []), m]);
  // Fields the class itself defines (useDefineForClassFields) are keys of every instance: the
  // contracts declare each (a field without metadata is left to class-validator).
  const instanceKeys = Object.keys(new (cls as new () => object)());
  if (instanceKeys.some((key) => !grouped.has(key))) return undefined;
  const properties: PropertyPlan[] = [];
  for (const [name, group] of grouped) {
    const property = compileProperty(cls, name, group);
    if (!property) return undefined;
    properties.push(property);
  }
  return { cls, properties, byName: new Map(properties.map((p) => [p.name, p])) };
}

/** No methods or accessors on the prototype chain: class-transformer would skip such keys. */
function hasOnlyFields(cls: Constructor<object>): boolean {
  for (
    let proto: object | null = cls.prototype;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (Object.getOwnPropertyNames(proto).some((name) => name !== 'constructor')) return false;
  }
  return true;
}

function compileProperty(
  cls: Constructor<object>,
  name: string,
  group: readonly ValidationMetadata[],
): PropertyPlan | undefined {
  if (transformerStorage.findTransformMetadatas(cls, name, PLAIN_TO_CLASS).length > 0) return undefined;
  let optional = false;
  let defined = false;
  let nestedEach: boolean | undefined;
  const checks: ConstraintCheck[] = [];
  for (const m of group) {
    switch (m.type) {
      case ValidationTypes.CONDITIONAL_VALIDATION:
        if (m.name !== 'isOptional') return undefined; // ValidateIf depends on the object
        optional = true;
        break;
      case ValidationTypes.IS_DEFINED:
        defined = true;
        break;
      case ValidationTypes.NESTED_VALIDATION:
        nestedEach = (nestedEach ?? false) || m.each === true;
        break;
      case ValidationTypes.CUSTOM_VALIDATION: {
        const check = compileConstraint(cls, m);
        if (!check) return undefined;
        checks.push(check);
        break;
      }
      default:
        return undefined;
    }
  }
  const property: PropertyPlan = { name, optional, defined, checks };
  if (nestedEach === undefined) return property;
  const typeMetadata = transformerStorage.findTypeMetadata(cls, name);
  if (!typeMetadata) return undefined; // ValidateNested without @Type: class-validator refuses plain objects
  if (typeMetadata.reflectedType === Set || typeMetadata.reflectedType === Map) return undefined;
  let resolved: NestedType | undefined | null = null;
  const each = nestedEach;
  return {
    ...property,
    nested: {
      each,
      resolve: () => {
        if (resolved === null) resolved = resolveNested(typeMetadata);
        return resolved;
      },
    },
  };
}

function resolveNested(typeMetadata: TypeMetadata): NestedType | undefined {
  // The contracts' type functions take no arguments (they only defer a class reference).
  const base = planOf(typeMetadata.typeFunction() as Constructor<object>);
  if (!base) return undefined;
  const discriminator = typeMetadata.options?.discriminator;
  if (!discriminator) return { base };
  if (!typeMetadata.options?.keepDiscriminatorProperty) return undefined; // it would delete the property
  const subTypes = new Map<string, ClassPlan>();
  for (const subType of discriminator.subTypes) {
    const plan = planOf(subType.value as Constructor<object>);
    if (!plan) return undefined;
    if (!subTypes.has(subType.name)) subTypes.set(subType.name, plan); // class-transformer takes the first
  }
  return { base, discriminator: { property: discriminator.property, subTypes } };
}

function compileConstraint(cls: Constructor<object>, m: ValidationMetadata): ConstraintCheck | undefined {
  if (!m.name || !PURE_CONSTRAINTS.has(m.name)) return undefined;
  const constraints = getMetadataStorage().getTargetValidatorConstraints(m.constraintCls);
  if (constraints.length !== 1 || constraints[0].async || constraints[0].name !== m.name) return undefined;
  const validator = constraints[0].instance as { validate(value: unknown, args: ValidationArguments): boolean };
  // class-validator's own check for the decorator, so the verdict is its verdict; these read
  // only the value and args.constraints.
  const args: ValidationArguments = {
    targetName: cls.name,
    property: m.propertyName,
    object: {},
    value: undefined,
    constraints: m.constraints,
  };
  return { test: (value) => validator.validate(value, args) === true, each: m.each === true };
}

/** A value JSON.stringify writes as it is: a string, a finite number, a boolean, null. */
function isJsonScalar(value: unknown): boolean {
  const type = typeof value;
  return type === 'string' || type === 'boolean' || value === null || (type === 'number' && Number.isFinite(value));
}

/** An object JSON.stringify writes as `{...}` of its own enumerable properties. */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    plainPrototypes.has(Object.getPrototypeOf(value)) &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function'
  );
}

function isJsonArray(value: unknown): value is unknown[] {
  return (
    Array.isArray(value) &&
    Object.getPrototypeOf(value) === Array.prototype &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function'
  );
}

/** A value serialised as itself: a scalar, an array or an object as above (contents not looked at). */
function isJsonValue(value: unknown): boolean {
  return isJsonScalar(value) || isJsonArray(value) || isJsonObject(value);
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Keys the class does not declare are not looked at: class-validator does not validate them,
 * and whatever JSON.stringify makes of them is what goes on the wire and what a consumer keeps.
 */
function acceptsObject(plan: ClassPlan, value: unknown): boolean {
  if (!isJsonObject(value)) return false;
  for (const property of plan.properties) {
    if (!acceptsProperty(property, hasOwn.call(value, property.name) ? value[property.name] : undefined)) return false;
  }
  return true;
}

function acceptsProperty(property: PropertyPlan, value: unknown): boolean {
  if (value === undefined || value === null) {
    if (property.optional) return true;
    if (property.defined) return false;
  } else if (!isJsonValue(value)) {
    return false;
  }
  for (const check of property.checks) {
    if (check.each && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i]) || !check.test(value[i])) return false;
    } else if (!check.test(value)) {
      return false;
    }
  }
  const nested = property.nested;
  if (!nested || value === undefined) return true; // class-validator skips an undefined nested value
  const type = nested.resolve();
  if (!type) return false;
  if (nested.each) {
    if (!Array.isArray(value)) return false;
    for (let i = 0; i < value.length; i++) if (!acceptsObject(planFor(type, value[i]), value[i])) return false;
    return true;
  }
  return acceptsObject(planFor(type, value), value);
}

/** The class class-transformer picks for a nested value: by discriminator, else the declared type. */
function planFor(type: NestedType, value: unknown): ClassPlan {
  if (!type.discriminator || typeof value !== 'object' || value === null) return type.base;
  const property = type.discriminator.property;
  const tag = hasOwn.call(value, property) ? (value as Record<string, unknown>)[property] : undefined;
  return (typeof tag === 'string' && type.discriminator.subTypes.get(tag)) || type.base;
}

function materializeObject(plan: ClassPlan, plain: Record<string, unknown>): object {
  const instance = new (plan.cls as new () => Record<string, unknown>)();
  for (const key of Object.keys(plain)) {
    const value = plain[key];
    const nested = plan.byName.get(key)?.nested;
    const type = nested && value !== null && typeof value === 'object' ? nested.resolve() : undefined;
    if (!type) instance[key] = value;
    else if (Array.isArray(value))
      instance[key] = value.map((item) => materializeObject(planFor(type, item), item as Record<string, unknown>));
    else instance[key] = materializeObject(planFor(type, value), value as Record<string, unknown>);
  }
  return instance;
}
