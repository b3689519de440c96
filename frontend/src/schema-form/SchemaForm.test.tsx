import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Vocabulary } from '../api/types';
import { initI18n } from '../i18n';
import { blockType } from '../test/fixtures';
import { parseLoose, showLoose } from './fields';
import { SchemaForm } from './SchemaForm';

beforeAll(() => initI18n());
afterEach(cleanup);

const vocabulary: Vocabulary = {
  events: ['registration_started', 'registration_completed'],
  attributes: ['plan'],
  tags: ['vip'],
  templates: [{ key: 'tpl_welcome', name: 'Welcome' }],
  segments: [{ key: 'streaming_active', name: 'Streaming active' }],
  computed: [{ key: 'rentals_30d', name: 'Rentals in the last 30 days' }],
  packages: ['Streaming', 'Cinema'],
};

/** The form as the panel uses it: controlled, reporting every change. */
function Harness({ type, initial, onChange, problems }: { type: string; initial: Record<string, unknown>; onChange(v: unknown): void; problems?: Map<string, string[]> }) {
  const [value, setValue] = useState(initial);
  const schema = blockType(type).config_schema;
  return (
    <SchemaForm
      schema={schema}
      value={value}
      path="config"
      vocabulary={vocabulary}
      problems={problems}
      onChange={(next) => {
        setValue(next);
        onChange(next);
      }}
    />
  );
}

const field = (path: string) => screen.getByTestId(`field-${path}`) as HTMLInputElement & HTMLSelectElement;

describe('SchemaForm', () => {
  it('edits a duration as number and unit, writing ISO 8601', () => {
    const onChange = vi.fn();
    render(<Harness type="wait.duration" initial={{ duration: 'P3D' }} onChange={onChange} />);
    expect(field('config.duration').value).toBe('3');
    expect(field('config.duration-unit').value).toBe('days');
    fireEvent.change(field('config.duration-unit'), { target: { value: 'hours' } });
    expect(onChange).toHaveBeenLastCalledWith({ duration: 'PT3H' });
    fireEvent.change(field('config.duration'), { target: { value: '2' } });
    expect(onChange).toHaveBeenLastCalledWith({ duration: 'PT2H' });
    fireEvent.change(field('config.duration'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith({});
    expect(screen.getByTestId('field-config.duration-error').textContent).toBe('Required.');
  });

  it('switches a rule to another kind and fills in that kind’s defaults', () => {
    const onChange = vi.fn();
    render(<Harness type="condition" initial={{ rule: { kind: 'all', rules: [] } }} onChange={onChange} />);
    fireEvent.change(field('config.rule.kind'), { target: { value: 'event' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: { kind: 'event', op: 'at_least', count: 1, within: null, where: [] } });
    fireEvent.change(field('config.rule.event'), { target: { value: 'registration_completed' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: expect.objectContaining({ kind: 'event', event: 'registration_completed' }) });
    // Nullable duration: empty means null, a number means a duration.
    fireEvent.change(field('config.rule.within'), { target: { value: '2' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: expect.objectContaining({ within: 'PT2H' }) });
    fireEvent.change(field('config.rule.within'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: expect.objectContaining({ within: null }) });
  });

  it('nests rules recursively inside all/any', () => {
    const onChange = vi.fn();
    render(<Harness type="condition" initial={{ rule: { kind: 'all', rules: [] } }} onChange={onChange} />);
    fireEvent.click(screen.getByTestId('field-config.rule.rules-add'));
    expect(onChange).toHaveBeenLastCalledWith({ rule: { kind: 'all', rules: [{ kind: 'all', rules: [] }] } });
    fireEvent.change(field('config.rule.rules.0.kind'), { target: { value: 'tag' } });
    fireEvent.change(field('config.rule.rules.0.tag'), { target: { value: 'vip' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: { kind: 'all', rules: [{ kind: 'tag', present: true, tag: 'vip' }] } });
  });

  it('offers the workspace vocabulary named by x-source, by name, storing the key', () => {
    const onChange = vi.fn();
    render(<Harness type="send" initial={{ channel: 'email' }} onChange={onChange} />);
    const picker = field('config.template');
    expect(picker.tagName).toBe('SELECT');
    expect([...picker.querySelectorAll('option')].map((o) => [o.value, o.textContent])).toEqual([
      ['', 'Choose…'],
      ['tpl_welcome', 'Welcome'],
    ]);
    fireEvent.change(picker, { target: { value: 'tpl_welcome' } });
    expect(onChange).toHaveBeenLastCalledWith({ channel: 'email', template: 'tpl_welcome' });
    expect(screen.getByTestId('field-config.template-open')).toBeTruthy();
  });

  it('picks segments by name for the segment blocks and rules, and flags a key that is gone', () => {
    const onChange = vi.fn();
    render(<Harness type="trigger.segment" initial={{ segment: 'gone', when: 'enters', include_existing: false }} onChange={onChange} />);
    const picker = field('config.segment');
    expect([...picker.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['Choose…', 'Streaming active', 'gone (not found)']);
    expect(screen.getByTestId('field-config.segment-missing')).toBeTruthy();
    fireEvent.change(picker, { target: { value: 'streaming_active' } });
    expect(onChange).toHaveBeenLastCalledWith({ segment: 'streaming_active', when: 'enters', include_existing: false });
    expect(field('config.when').textContent).toContain('enters the segment');
  });

  it('offers plain names (events, packages) as suggestions while typing', () => {
    render(<Harness type="condition" initial={{ rule: { kind: 'subscription', names: ['Streaming'] } }} onChange={vi.fn()} />);
    const input = field('config.rule.names.0');
    const list = document.getElementById(input.getAttribute('list') ?? '');
    expect([...(list?.querySelectorAll('option') ?? [])].map((o) => o.value)).toEqual(['Streaming', 'Cinema']);
  });

  it('edits subscription day counts with the calendar date they mean', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(2026, 11, 3, 9, 0));
    const onChange = vi.fn();
    render(<Harness type="condition" initial={{ rule: { kind: 'subscription', names: [], ends_in: null } }} onChange={onChange} />);
    fireEvent.change(field('config.rule.ends_in.op'), { target: { value: 'exactly' } });
    fireEvent.change(field('config.rule.ends_in.days'), { target: { value: '7' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: { kind: 'subscription', names: [], ends_in: { op: 'exactly', days: 7, to_days: null } } });
    const hint = screen.getByTestId('field-config.rule.ends_in-hint').textContent ?? '';
    expect(hint).toContain('Ends on Thu, Dec 10, 2026');
    expect(hint).toContain('today is Dec 3');
    fireEvent.change(field('config.rule.ends_in.op'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith({ rule: { kind: 'subscription', names: [], ends_in: null } });
    // The older single-name field is not offered on a new rule.
    expect(screen.queryByTestId('field-config.rule.name')).toBeNull();
    vi.useRealTimers();
  });

  it('shows server problems on the field they point at', () => {
    const problems = new Map([['config.duration', ['Invalid ISO8601 duration']]]);
    render(<Harness type="wait.duration" initial={{ duration: 'PT1H' }} onChange={vi.fn()} problems={problems} />);
    expect(screen.getByTestId('field-config.duration-error').textContent).toBe('Invalid ISO8601 duration');
    expect(field('config.duration').closest('.field')?.className).toContain('invalid');
  });

  it('adds and removes list items within minItems and labels enum values', () => {
    const onChange = vi.fn();
    const branches = [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }];
    render(<Harness type="split.random" initial={{ branches }} onChange={onChange} />);
    expect((screen.getByTestId('field-config.branches.0-remove') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('field-config.branches-add'));
    expect(onChange).toHaveBeenLastCalledWith({ branches: [...branches, { weight: 1 }] });
    fireEvent.change(field('config.branches.2.name'), { target: { value: 'bad name!' } });
    expect(screen.getByTestId('field-config.branches.2.name-error').textContent).toBe('This does not have the expected format.');
    fireEvent.click(screen.getByTestId('field-config.branches.2-remove'));
    expect(onChange).toHaveBeenLastCalledWith({ branches });
  });

  it('fills an empty list up to its minimum length', () => {
    const onChange = vi.fn();
    render(<Harness type="split.random" initial={{}} onChange={onChange} />);
    fireEvent.click(screen.getByTestId('field-config.branches-add'));
    expect(onChange).toHaveBeenLastCalledWith({ branches: [{ weight: 1 }, { weight: 1 }] });
  });

  it('edits dictionaries key by key', () => {
    const onChange = vi.fn();
    render(<Harness type="tag" initial={{ add: [] }} onChange={onChange} />);
    fireEvent.change(screen.getByTestId('field-config.set-new-key'), { target: { value: 'plan' } });
    fireEvent.click(screen.getByTestId('field-config.set-add'));
    expect(onChange).toHaveBeenLastCalledWith({ add: [], set: { plan: '' } });
    fireEvent.change(field('config.set.plan'), { target: { value: '42' } });
    expect(onChange).toHaveBeenLastCalledWith({ add: [], set: { plan: 42 } });
  });

  it('labels untitled fields, enum values and rule kinds from the catalogue', () => {
    render(<Harness type="condition" initial={{ rule: { kind: 'attribute', key: 'plan', op: 'not_in' } }} onChange={vi.fn()} />);
    expect(screen.getByText('Comparison')).toBeTruthy();
    const op = field('config.rule.op');
    expect(op.options[op.selectedIndex]!.text).toBe('is none of');
    const kind = field('config.rule.kind');
    expect(kind.options[kind.selectedIndex]!.text).toBe('Attribute');
  });
});

describe('loose values', () => {
  it('reads numbers, booleans, null and JSON, and keeps other text', () => {
    expect(parseLoose('42')).toBe(42);
    expect(parseLoose('true')).toBe(true);
    expect(parseLoose('["a","b"]')).toEqual(['a', 'b']);
    expect(parseLoose('gold')).toBe('gold');
    expect(parseLoose('[broken')).toBe('[broken');
    expect(parseLoose('  ')).toBeNull();
    expect(showLoose(['a'])).toBe('["a"]');
    expect(showLoose('x')).toBe('x');
  });
});
