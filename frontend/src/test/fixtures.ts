import type { BlockType, Graph } from '../api/types';
import blockTypesJson from './block-types.json';

/** The built-in block types exactly as the server describes them (`GET /api/block-types`). */
export const blockTypes = blockTypesJson as unknown as BlockType[];

export function blockType(type: string): BlockType {
  const found = blockTypes.find((b) => b.type === type);
  if (!found) throw new Error(`no block type ${type}`);
  return found;
}

/** The abandoned-registration journey from DESIGN.md. */
export function abandonedRegistration(): Graph {
  return {
    schema_version: 1,
    nodes: [
      { id: 'entry', type: 'trigger.event', version: 1, label: 'Registration started', config: { event: 'registration_started' }, position: { x: 0, y: 0 } },
      { id: 'wait1', type: 'wait.duration', version: 1, config: { duration: 'PT2H' }, position: { x: 0, y: 150 } },
      { id: 'done?', type: 'condition', version: 1, config: { rule: { kind: 'event', event: 'registration_completed', within: 'PT2H' } }, position: { x: 0, y: 300 } },
      { id: 'mail1', type: 'send', version: 1, config: { template: 'tpl_recovery_1' }, position: { x: -150, y: 450 } },
      { id: 'tag1', type: 'tag', version: 1, config: { add: ['recovered'] }, position: { x: 150, y: 450 } },
    ],
    edges: [
      { id: 'e1', source: 'entry', port: 'next', target: 'wait1' },
      { id: 'e2', source: 'wait1', port: 'next', target: 'done?' },
      { id: 'e3', source: 'done?', port: 'no', target: 'mail1' },
      { id: 'e4', source: 'done?', port: 'yes', target: 'tag1' },
    ],
    settings: { reentry: 'never', goal: null, exit_when: [], timezone: 'contact', quiet_hours: null, frequency_cap: null, control_group_percent: 0 },
  };
}
