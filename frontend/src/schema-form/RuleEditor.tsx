/** The one rule editor: the condition block's `rule` field, rendered by the same schema form as every
 * block config, against the Rule schema the server serves with the condition block
 * (`GET /api/block-types` → `condition` → `config_schema.properties.rule`). Segments use it, so a
 * segment's rule and a condition's rule are written with the very same widgets. Field test ids are
 * `field-rule.<path>` (`field-rule.kind`, `field-rule.rules.0.key`). */
import { useMemo } from 'react';
import type { BlockType, Vocabulary } from '../api/types';
import { FormContext, type FormContextValue } from './context';
import { Field } from './fields';
import type { JsonSchema } from './schema';

interface RuleEditorProps {
  /** The condition block's config schema: its `rule` property and the `$defs` it refers to. */
  schema: JsonSchema;
  value: unknown;
  onChange(value: Record<string, unknown> | undefined): void;
  /** Problems by field path (`rule.rules.0.value`). */
  problems?: ReadonlyMap<string, readonly string[]>;
  vocabulary: Vocabulary | null;
}

const NO_PROBLEMS: ReadonlyMap<string, readonly string[]> = new Map();

/** The block type whose config carries the rule language's schema. */
export const RULE_BLOCK = 'condition';

export function ruleSchemaOf(blockTypes: readonly BlockType[]): JsonSchema | null {
  const block = blockTypes.find((b) => b.type === RULE_BLOCK && b.latest) ?? blockTypes.find((b) => b.type === RULE_BLOCK);
  return block?.config_schema.properties?.rule ? block.config_schema : null;
}

export function RuleEditor({ schema, value, onChange, problems = NO_PROBLEMS, vocabulary }: RuleEditorProps) {
  const context = useMemo<FormContextValue>(() => ({ root: schema, vocabulary, problems }), [schema, vocabulary, problems]);
  const rule = schema.properties?.rule ?? {};
  return (
    <FormContext.Provider value={context}>
      <div className="schema-form rule-editor" data-testid="rule-editor">
        <Field name="rule" schema={rule} required value={value} path="rule" onChange={(next) => onChange(next as Record<string, unknown> | undefined)} />
      </div>
    </FormContext.Provider>
  );
}
