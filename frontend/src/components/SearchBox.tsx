import { Icon } from './Icon';

interface SearchBoxProps {
  value: string;
  onChange(value: string): void;
  /** The accessible name; also the placeholder unless `placeholder` says otherwise. */
  label: string;
  placeholder?: string;
  testId: string;
  id?: string;
  /** `search-box` above a list; the palette has its own look. */
  className?: string;
  iconSize?: number;
}

/** A search field with a magnifier icon in front. */
export function SearchBox({ value, onChange, label, placeholder = label, testId, id, className = 'search-box', iconSize }: SearchBoxProps) {
  return (
    <div className={className}>
      <Icon name="search" size={iconSize} />
      <input
        className="input"
        type="search"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        aria-label={label}
        data-testid={testId}
        id={id}
      />
    </div>
  );
}
