import { getMetadataStorage } from 'class-validator';

// class-validator (0.15) looks a class's validators up anew on every object it validates: it walks
// every class it knows for inheritance and groups the validators by property, about a sixth of a
// status report's validation in a profile (docs/decisions/validation.md). Validators are
// registered as the DTO modules load, so the lookups are kept per class here; registering one more
// validator forgets them.

// One registered validator, kept as class-validator gave it (its type is not exported).
type ValidationMetadata = object;

type Lookup = (
  target: unknown,
  schema: string,
  always: boolean,
  strictGroups: boolean,
  groups?: string[],
) => ValidationMetadata[];

type Group = (metadata: ValidationMetadata[]) => Record<string, ValidationMetadata[]>;

interface Storage {
  getTargetValidationMetadatas: Lookup;
  groupByPropertyName: Group;
  addValidationMetadata(metadata: ValidationMetadata): void;
}

const KEPT = Symbol('command-tracker: validator lookups kept');

/** Keeps class-validator's lookups of a class's validators; once per process. */
export function keepValidatorLookups(): void {
  const storage = getMetadataStorage() as unknown as Storage & { [KEPT]?: true };
  if (storage[KEPT]) {
    return;
  }
  storage[KEPT] = true;
  let lookups = new WeakMap<object, Map<string, ValidationMetadata[]>>();
  let groupings = new WeakMap<ValidationMetadata[], Record<string, ValidationMetadata[]>>();
  const lookUp = storage.getTargetValidationMetadatas.bind(storage);
  const group = storage.groupByPropertyName.bind(storage);
  const add = storage.addValidationMetadata.bind(storage);
  // The pipe validates with neither groups nor `always`: those lookups are kept, by class and schema.
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    if (typeof target !== 'function' || always || strictGroups || groups !== undefined) {
      return lookUp(target, schema, always, strictGroups, groups);
    }
    let bySchema = lookups.get(target);
    if (bySchema === undefined) {
      bySchema = new Map();
      lookups.set(target, bySchema);
    }
    let found = bySchema.get(schema);
    if (found === undefined) {
      found = lookUp(target, schema, always, strictGroups, groups);
      bySchema.set(schema, found);
    }
    return found;
  };
  storage.groupByPropertyName = (metadata) => {
    let grouped = groupings.get(metadata);
    if (grouped === undefined) {
      grouped = group(metadata);
      groupings.set(metadata, grouped);
    }
    return grouped;
  };
  storage.addValidationMetadata = (metadata) => {
    lookups = new WeakMap();
    groupings = new WeakMap();
    add(metadata);
  };
}
