import { fail } from '../errors.js';

/** The parts of config.json gradlens reads, validated by type (a config comes from a stranger). */
export interface ModelConfig {
  model_type?: string;
  architectures?: string[];
  /** Label names by class index; a prototype-free object, so keys like "__proto__" are plain labels. */
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  max_position_embeddings?: number;
  problem_type?: string;
  [key: string]: unknown;
}

const PROBLEM_TYPES = ['regression', 'single_label_classification', 'multi_label_classification'];

/** Checks the fields gradlens uses; anything of the wrong type is one clear error naming the field. */
export function validateConfig(raw: Record<string, unknown>, what: string): ModelConfig {
  const config: ModelConfig = Object.assign(Object.create(null) as ModelConfig, raw);
  const bad = (field: string, expected: string, value: unknown): never =>
    fail(`${what}: ${field} must be ${expected}, got ${JSON.stringify(value)?.slice(0, 60) ?? String(value)}`);
  const optional = (field: string) => Object.hasOwn(raw, field) && raw[field] !== null;
  if (optional('model_type') && typeof raw['model_type'] !== 'string') bad('model_type', 'a string', raw['model_type']);
  if (optional('architectures') && !(Array.isArray(raw['architectures']) && raw['architectures'].every((a) => typeof a === 'string'))) {
    bad('architectures', 'a list of strings', raw['architectures']);
  }
  if (optional('max_position_embeddings')) {
    const v = raw['max_position_embeddings'];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1 << 24) bad('max_position_embeddings', 'a positive integer', v);
  } else delete config.max_position_embeddings;
  if (optional('problem_type') && !(typeof raw['problem_type'] === 'string' && PROBLEM_TYPES.includes(raw['problem_type']))) {
    bad('problem_type', `one of ${PROBLEM_TYPES.join(', ')}`, raw['problem_type']);
  }
  if (optional('id2label')) {
    const v = raw['id2label'];
    if (typeof v !== 'object' || Array.isArray(v)) bad('id2label', 'an object of index → label name', v);
    const out = Object.create(null) as Record<string, string>;
    for (const [k, name] of Object.entries(v as object)) {
      if (!/^\d{1,7}$/.test(k)) bad(`id2label key ${JSON.stringify(k)}`, 'a class index', k);
      if (typeof name !== 'string') bad(`id2label[${k}]`, 'a string', name);
      out[String(Number(k))] = name as string;
    }
    config.id2label = out;
  } else delete config.id2label;
  if (optional('label2id')) {
    const v = raw['label2id'];
    if (typeof v !== 'object' || Array.isArray(v)) bad('label2id', 'an object of label name → index', v);
    const out = Object.create(null) as Record<string, number>;
    for (const [k, index] of Object.entries(v as object)) {
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) bad(`label2id[${JSON.stringify(k)}]`, 'a non-negative integer', index);
      out[k] = index as number;
    }
    config.label2id = out;
  } else delete config.label2id;
  return config;
}

/** An own property of a lookup table, never an inherited one ("constructor", "__proto__", "toString"). */
export function own<T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return table && Object.hasOwn(table, key) ? table[key] : undefined;
}
