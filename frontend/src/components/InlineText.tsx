/** Server-written help text (docstrings of block configs) marks names as ``name`` or `name`: show them as code. */
export function InlineText({ text }: { text: string }) {
  const parts = text.split(/``?([^`]+)``?/g);
  return (
    <>
      {parts.map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}
    </>
  );
}
