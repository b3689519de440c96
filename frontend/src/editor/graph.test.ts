import { describe, expect, it } from 'vitest';
import { abandonedRegistration } from '../test/fixtures';
import { edgeId, nextNodeId, toCanvas, toGraph } from './graph';

describe('graph ⇄ canvas', () => {
  it('round-trips a positioned graph unchanged', () => {
    const graph = abandonedRegistration();
    const canvas = toCanvas(graph);
    expect(canvas.needsLayout).toBe(false);
    expect(toGraph(canvas.nodes, canvas.edges, canvas.meta)).toEqual(graph);
  });

  it('maps ports to source handles and back', () => {
    const canvas = toCanvas(abandonedRegistration());
    const no = canvas.edges.find((e) => e.id === 'e3');
    expect(no).toMatchObject({ source: 'done?', target: 'mail1', sourceHandle: 'no' });
    const graph = toGraph(canvas.nodes, canvas.edges, canvas.meta);
    expect(graph.edges.map((e) => e.port)).toEqual(['next', 'next', 'no', 'yes']);
  });

  it('defaults a missing port to next', () => {
    const graph = abandonedRegistration();
    graph.edges = [{ id: 'x', source: 'entry', target: 'wait1', port: '' }];
    expect(toCanvas(graph).edges[0]?.sourceHandle).toBe('next');
  });

  it('carries block identity, label and config in node data', () => {
    const node = toCanvas(abandonedRegistration()).nodes[0];
    expect(node).toMatchObject({
      id: 'entry',
      type: 'block',
      position: { x: 0, y: 0 },
      data: { blockType: 'trigger.event', version: 1, label: 'Registration started', config: { event: 'registration_started' } },
    });
  });

  it('flags graphs without positions for layout and writes rounded positions back', () => {
    const graph = abandonedRegistration();
    delete graph.nodes[1]!.position;
    const canvas = toCanvas(graph);
    expect(canvas.needsLayout).toBe(true);
    canvas.nodes[0]!.position = { x: 10.4, y: 20.6 };
    const out = toGraph(canvas.nodes, canvas.edges, canvas.meta);
    expect(out.nodes[0]!.position).toEqual({ x: 10, y: 21 });
    expect(out.nodes[1]!.position).toEqual({ x: 0, y: 0 });
  });

  it('omits an empty label and keeps settings', () => {
    const canvas = toCanvas(abandonedRegistration());
    const out = toGraph(canvas.nodes, canvas.edges, canvas.meta);
    expect(out.nodes[1]).not.toHaveProperty('label');
    expect(out.settings).toEqual(abandonedRegistration().settings);
  });
});

describe('ids', () => {
  it('numbers node ids per block type, skipping taken ones', () => {
    expect(nextNodeId('wait.duration', new Set())).toBe('wait_duration_1');
    expect(nextNodeId('wait.duration', new Set(['wait_duration_1', 'wait_duration_2']))).toBe('wait_duration_3');
    expect(nextNodeId('acme.slack', new Set(['wait_duration_1']))).toBe('acme_slack_1');
  });

  it('derives edge ids from the source port', () => {
    expect(edgeId('a', 'yes', new Set())).toBe('e_a_yes');
    expect(edgeId('a', 'yes', new Set(['e_a_yes']))).toBe('e_a_yes_2');
  });
});
