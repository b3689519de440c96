import type { NodeChange } from '@xyflow/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { abandonedRegistration, blockTypes } from '../test/fixtures';
import { toCanvas, toGraph } from './graph';
import { COALESCE_MS, createEditorStore, type EditorState } from './store';
import type { BlockNode } from './types';
import type { StoreApi } from 'zustand/vanilla';

let clock = 0;
let store: StoreApi<EditorState>;
const s = () => store.getState();
const ids = () => s().nodes.map((n) => n.id);
const edgesOf = () => s().edges.map((e) => `${e.source}:${e.sourceHandle}->${e.target}`);

beforeEach(() => {
  clock = 0;
  store = createEditorStore(() => clock);
  s().setBlockTypes(blockTypes);
  s().load(toCanvas(abandonedRegistration()));
});

describe('adding and connecting', () => {
  it('adds a block with the defaults of its schema and selects only it', () => {
    s().select(['entry']);
    const id = s().addBlock('split.random', { x: 5, y: 6 });
    expect(id).toBe('split_random_1');
    const node = s().nodes.find((n) => n.id === id)!;
    // The schema carries the default of a default_factory field (API_NEEDS 3): branches a/b.
    expect(node.data.config).toEqual({ branches: [{ name: 'a', weight: 50 }, { name: 'b', weight: 50 }] });
    expect(node.position).toEqual({ x: 5, y: 6 });
    expect(s().selectedIds).toEqual([id]);
  });

  it('fills pinned tags of required unions and leaves required scalars empty', () => {
    const wait = s().addBlock('wait.duration', { x: 0, y: 0 })!;
    expect(s().nodes.find((n) => n.id === wait)!.data.config).toEqual({});
    const cond = s().addBlock('condition', { x: 0, y: 0 })!;
    expect(s().nodes.find((n) => n.id === cond)!.data.config).toEqual({ rule: { kind: 'all', rules: [] } });
  });

  it('refuses unknown block types', () => {
    expect(s().addBlock('nope', { x: 0, y: 0 })).toBeNull();
    expect(s().past).toHaveLength(0);
  });

  it('connects a port, and reconnecting the same port moves the edge', () => {
    const id = s().addBlock('exit', { x: 0, y: 0 })!;
    expect(s().connect({ source: 'done?', sourceHandle: 'no', target: id, targetHandle: null })).toBe(true);
    expect(edgesOf()).toContain(`done?:no->${id}`);
    expect(edgesOf()).not.toContain('done?:no->mail1');
    expect(s().edges.filter((e) => e.source === 'done?' && e.sourceHandle === 'no')).toHaveLength(1);
  });

  it('refuses self-connections and exact duplicates', () => {
    expect(s().connect({ source: 'wait1', sourceHandle: 'next', target: 'wait1', targetHandle: null })).toBe(false);
    expect(s().connect({ source: 'wait1', sourceHandle: 'next', target: 'done?', targetHandle: null })).toBe(false);
    expect(s().changeSeq).toBe(0);
  });
});

describe('undo and redo', () => {
  it('undoes and redoes an add, a connect and a delete in order', () => {
    const original = toGraph(s().nodes, s().edges, s().meta);
    const id = s().addBlock('exit', { x: 0, y: 0 })!;
    s().connect({ source: 'tag1', sourceHandle: 'next', target: id, targetHandle: null });
    s().select(['mail1']);
    s().deleteSelection();
    expect(ids()).not.toContain('mail1');

    s().undo();
    expect(ids()).toContain('mail1');
    expect(edgesOf()).toContain('done?:no->mail1');
    s().undo();
    expect(edgesOf()).not.toContain(`tag1:next->${id}`);
    s().undo();
    expect(ids()).not.toContain(id);
    expect(toGraph(s().nodes, s().edges, s().meta)).toEqual(original);
    s().undo(); // nothing left: no-op
    expect(ids()).toHaveLength(5);

    s().redo();
    s().redo();
    expect(edgesOf()).toContain(`tag1:next->${id}`);
    s().redo();
    expect(ids()).not.toContain('mail1');
    expect(s().future).toHaveLength(0);
  });

  it('drops the redo stack on a new edit', () => {
    s().addBlock('exit', { x: 0, y: 0 });
    s().undo();
    expect(s().future).toHaveLength(1);
    s().addBlock('tag', { x: 0, y: 0 });
    expect(s().future).toHaveLength(0);
  });

  it('makes one undo step of typing in one field, a new one after a pause', () => {
    s().updateConfig('wait1', { duration: 'PT3H' });
    clock += 100;
    s().updateConfig('wait1', { duration: 'PT30H' });
    clock += COALESCE_MS + 1;
    s().updateConfig('wait1', { duration: 'P2D' });
    s().undo();
    expect(s().nodes.find((n) => n.id === 'wait1')!.data.config).toEqual({ duration: 'PT30H' });
    s().undo();
    expect(s().nodes.find((n) => n.id === 'wait1')!.data.config).toEqual({ duration: 'PT2H' });
  });

  it('makes one undo step of a whole drag and none of selection or measuring', () => {
    const move = (x: number, dragging: boolean): NodeChange<BlockNode> => ({ type: 'position', id: 'wait1', position: { x, y: 150 }, dragging });
    s().onNodesChange([{ type: 'select', id: 'wait1', selected: true }]);
    s().onNodesChange([{ type: 'dimensions', id: 'wait1', dimensions: { width: 240, height: 90 } }]);
    expect(s().past).toHaveLength(0);
    expect(s().selectedIds).toEqual(['wait1']);
    s().onNodesChange([move(10, true)]);
    s().onNodesChange([move(20, true)]);
    s().onNodesChange([move(30, true)]);
    s().onNodesChange([move(30, false)]);
    expect(s().past).toHaveLength(1);
    expect(s().nodes.find((n) => n.id === 'wait1')!.position.x).toBe(30);
    s().undo();
    expect(s().nodes.find((n) => n.id === 'wait1')!.position.x).toBe(0);
  });

  it('keeps the selection array while a drag moves the selected block (its form does not re-render)', () => {
    s().onNodesChange([{ type: 'select', id: 'wait1', selected: true }]);
    const selection = s().selectedIds;
    for (const x of [10, 20, 30]) s().onNodesChange([{ type: 'position', id: 'wait1', position: { x, y: 150 }, dragging: true }]);
    s().onNodesChange([{ type: 'position', id: 'wait1', position: { x: 30, y: 150 }, dragging: false }]);
    expect(s().selectedIds).toBe(selection);
    s().onNodesChange([{ type: 'select', id: 'entry', selected: true }]);
    expect(s().selectedIds).toEqual(['entry', 'wait1']);
  });

  it('counts document changes for the autosave, not selection', () => {
    s().select(['wait1']);
    expect(s().changeSeq).toBe(0);
    s().updateLabel('wait1', 'Two hours');
    expect(s().changeSeq).toBe(1);
    s().undo();
    expect(s().changeSeq).toBe(2);
  });
});

describe('delete', () => {
  it('removes selected nodes with every edge touching them', () => {
    s().select(['done?']);
    s().deleteSelection();
    expect(ids()).toEqual(['entry', 'wait1', 'mail1', 'tag1']);
    expect(edgesOf()).toEqual(['entry:next->wait1']);
    expect(s().selectedIds).toEqual([]);
  });

  it('removes a selected edge alone', () => {
    s().onEdgesChange([{ type: 'select', id: 'e3', selected: true }]);
    expect(s().past).toHaveLength(0);
    s().deleteSelection();
    expect(ids()).toHaveLength(5);
    expect(s().edges.map((e) => e.id)).toEqual(['e1', 'e2', 'e4']);
  });

  it('does nothing without a selection', () => {
    s().deleteSelection();
    expect(s().past).toHaveLength(0);
    expect(ids()).toHaveLength(5);
  });
});

describe('copy and paste', () => {
  it('pastes copies with fresh ids, offset positions and the edges between them', () => {
    s().select(['wait1', 'done?', 'mail1']);
    expect(s().copySelection()).toBe(3);
    const pasted = s().paste();
    expect(pasted).toEqual(['wait_duration_1', 'condition_1', 'send_1']);
    expect(s().selectedIds).toEqual(pasted);
    const copy = s().nodes.find((n) => n.id === 'condition_1')!;
    expect(copy.position).toEqual({ x: 40, y: 340 });
    expect(copy.data.config).toEqual({ rule: { kind: 'event', event: 'registration_completed', within: 'PT2H' } });
    // Edges inside the copied set come along; the ones leading out of it (to tag1, from entry) do not.
    expect(edgesOf()).toEqual(expect.arrayContaining(['wait_duration_1:next->condition_1', 'condition_1:no->send_1']));
    expect(edgesOf().filter((e) => e.startsWith('condition_1:yes'))).toEqual([]);
    expect(s().edges).toHaveLength(6);
  });

  it('offsets each further paste and deep-copies the config', () => {
    s().select(['wait1']);
    s().copySelection();
    const [first] = s().paste();
    const [second] = s().paste();
    expect(s().nodes.find((n) => n.id === second)!.position).toEqual({ x: 80, y: 230 });
    s().updateConfig(first!, { duration: 'PT1M' });
    expect(s().nodes.find((n) => n.id === 'wait1')!.data.config).toEqual({ duration: 'PT2H' });
  });

  it('is undone in one step', () => {
    s().select(['wait1', 'done?']);
    s().copySelection();
    s().paste();
    s().undo();
    expect(ids()).toEqual(['entry', 'wait1', 'done?', 'mail1', 'tag1']);
  });

  it('copies nothing without a selection', () => {
    expect(s().copySelection()).toBe(0);
    expect(s().paste()).toEqual([]);
  });
});

describe('dynamic ports', () => {
  it('keeps a branch edge attached when the branch is renamed and drops it when removed', () => {
    const split = s().addBlock('split.random', { x: 0, y: 0 })!;
    s().connect({ source: split, sourceHandle: 'b', target: 'mail1', targetHandle: null });
    s().updateConfig(split, { branches: [{ name: 'a', weight: 50 }, { name: 'treatment', weight: 50 }] });
    expect(edgesOf()).toContain(`${split}:treatment->mail1`);
    s().updateConfig(split, { branches: [{ name: 'a', weight: 50 }, { name: 'x', weight: 1 }, { name: 'y', weight: 1 }] });
    expect(edgesOf().filter((e) => e.startsWith(split))).toEqual([]);
  });
});

describe('server feedback', () => {
  it('pins problems to nodes by node_id or pointer index, with the field path', () => {
    s().setProblems(
      [
        { pointer: '/nodes/1/config/duration', message: 'Invalid ISO8601 duration' },
        { pointer: '/nodes/7/config', message: 'by id', node_id: 'tag1' },
        { pointer: '/nodes/2', message: 'unreachable' },
        { pointer: '/edges/0', message: 'dangling edge' },
      ],
      ['entry', 'wait1', 'done?'],
    );
    expect(s().problemsByNode).toEqual({
      wait1: [{ path: 'config.duration', message: 'Invalid ISO8601 duration' }],
      tag1: [{ path: 'config', message: 'by id' }],
      'done?': [{ path: '', message: 'unreachable' }],
    });
    expect(s().graphProblems.map((p) => p.message)).toEqual(['dangling edge']);
    expect(s().problemCount).toBe(4);
  });

  it('keeps warnings apart: they are listed but do not stop publishing', () => {
    s().setProblems(
      [
        { pointer: '/nodes/0/config/event', message: 'no contact has performed it yet', node_id: 'entry', severity: 'warning' },
        { pointer: '/nodes/1/config/template', message: 'no SMS version', node_id: 'wait1' },
      ],
      ['entry', 'wait1'],
    );
    expect(Object.keys(s().problemsByNode)).toEqual(['wait1']);
    expect(s().warnings.map((p) => p.node_id)).toEqual(['entry']);
    expect(s().problemCount).toBe(1);
  });

  it('keeps unchanged stats objects so their nodes do not re-render', () => {
    s().setStats({ wait1: { waiting: 1, passed: 2, outcomes: {}, failed: 0, last_error: null }, entry: { waiting: 0, passed: 3, outcomes: {}, failed: 0, last_error: null } });
    const before = s().stats;
    s().setStats({ wait1: { waiting: 1, passed: 2, outcomes: {}, failed: 0, last_error: null }, entry: { waiting: 0, passed: 4, outcomes: {}, failed: 0, last_error: null } });
    expect(s().stats.wait1).toBe(before.wait1);
    expect(s().stats.entry).not.toBe(before.entry);
  });
});

describe('layout', () => {
  it('places every node below the one it follows, as one undo step', () => {
    s().layout();
    const y = (id: string) => s().nodes.find((n) => n.id === id)!.position.y;
    expect(y('wait1')).toBeGreaterThan(y('entry'));
    expect(y('done?')).toBeGreaterThan(y('wait1'));
    expect(y('mail1')).toBeGreaterThan(y('done?'));
    expect(y('mail1')).toBe(y('tag1'));
    s().undo();
    expect(y('wait1')).toBe(150);
  });
});
