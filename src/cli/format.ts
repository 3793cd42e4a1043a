// Text output of the CLI: aligned tables and printable keys.

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A key for a terminal: JSON-quoted UTF-8 when it is printable text, else 0x-hex. */
export function formatKey(key: Uint8Array): string {
  try {
    const text = decoder.decode(key);
    // Control characters would garble the table; show those keys as hex too.
    if (!/[\u0000-\u001f\u007f]/.test(text)) return JSON.stringify(text);
  } catch {
    // not UTF-8: fall through to hex
  }
  return `0x${[...key].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** A plain-text table with a header rule, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}
