import { createContext, useContext } from 'react';
import type { Vocabulary } from '../api/types';
import type { JsonSchema } from './schema';

export interface FormContextValue {
  /** The schema `$ref`s resolve against. */
  root: JsonSchema;
  vocabulary: Vocabulary | null;
  /** Server problems by field path (`config.duration`). */
  problems: ReadonlyMap<string, readonly string[]>;
}

export const FormContext = createContext<FormContextValue>({
  root: {},
  vocabulary: null,
  problems: new Map(),
});

export const useFormContext = () => useContext(FormContext);
