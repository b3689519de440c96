/** Renders a form for any block config from its JSON Schema (no hand-written form per block). Every
 * input carries `data-testid="field-<path>"`, the path being the JSON pointer in dotted form
 * (`config.duration`, `config.branches.0.name`). */
import { useMemo } from 'react';
import type { Vocabulary } from '../api/types';
import { FormContext, type FormContextValue } from './context';
import { ObjectFields } from './fields';
import { deref, type JsonSchema } from './schema';

interface SchemaFormProps {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange(value: Record<string, unknown>): void;
  /** Path prefix of every field, `config` for block configs. */
  path: string;
  problems?: ReadonlyMap<string, readonly string[]>;
  vocabulary?: Vocabulary | null;
}

const NO_PROBLEMS: ReadonlyMap<string, readonly string[]> = new Map();

export function SchemaForm({ schema, value, onChange, path, problems = NO_PROBLEMS, vocabulary = null }: SchemaFormProps) {
  const context = useMemo<FormContextValue>(() => ({ root: schema, vocabulary, problems }), [schema, vocabulary, problems]);
  return (
    <FormContext.Provider value={context}>
      <div className="schema-form">
        <ObjectFields schema={deref(schema, schema)} value={value} onChange={onChange} path={path} />
      </div>
    </FormContext.Provider>
  );
}
