/**
 * bench/RESULTS.md is written by more than one script: `npm run bench` owns its top sections,
 * and each issue's bench owns one "## Issue N: …" section after them (`npm run bench:cost` the
 * Issue 9 one, one subsection per part it ran; `npm run bench:startup` the Issue 10 one;
 * `npm run bench:auth` a subsection of the Issue 11 one). Each replaces only what it owns.
 */
import { readFile, writeFile } from 'node:fs/promises';

export const RESULTS = new URL('./RESULTS.md', import.meta.url);
export const ISSUE_9 = '## Issue 9: costs and limits';
export const ISSUE_11 = '## Issue 11: sessions and API keys';

/** The issues' sections of the results (from the first "## Issue" heading to the end), or ''. */
export async function issueSections(): Promise<string> {
  const text = await readFile(RESULTS, 'utf8').catch(() => '');
  const at = text.indexOf('\n## Issue ');
  return at === -1 ? '' : text.slice(at + 1);
}

/**
 * The file cut around the section under `heading` (up to the next "## " heading). A missing one
 * goes at the end if it is an issue's, else before the issues' sections (`npm run bench`'s own
 * sections come first, and a whole run keeps everything from the first issue's on).
 */
async function around(heading: string): Promise<{ before: string; section: string; after: string }> {
  const text = await readFile(RESULTS, 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at === -1) {
    const issues = heading.startsWith('## Issue ') ? -1 : text.indexOf('\n## Issue ');
    if (issues === -1) return { before: `${text.trimEnd()}\n`, section: '', after: '' };
    return { before: text.slice(0, issues + 1), section: '', after: text.slice(issues + 1) };
  }
  const next = text.indexOf('\n## ', at + heading.length + 1);
  const end = next === -1 ? text.length : next + 1;
  return { before: text.slice(0, at + 1), section: text.slice(at + 1, end), after: text.slice(end) };
}

/** Writes the whole section under `heading` (a "## " line), replacing the one there was. */
export async function writeSection(heading: string, body: string): Promise<void> {
  const { before, after } = await around(heading);
  await writeFile(RESULTS, `${before.trimEnd()}\n\n${heading}\n\n${body.trim()}\n${after ? `\n${after}` : ''}`);
}

/**
 * Writes these subsections (each starting with its `### ` heading) into the section under
 * `heading`, replacing those of the same heading and keeping the others.
 */
export async function writeSubsections(heading: string, intro: string, subsections: string[]): Promise<void> {
  const { before, section, after } = await around(heading);
  const existing = splitSubsections(section);
  const titleOf = (part: string) => part.split('\n', 1)[0]!;
  for (const part of subsections) {
    const index = existing.findIndex((old) => titleOf(old) === titleOf(part));
    if (index === -1) existing.push(part.trim());
    else existing[index] = part.trim();
  }
  await writeFile(RESULTS, `${before}\n${heading}\n\n${intro.trim()}\n\n${existing.join('\n\n')}\n${after ? `\n${after}` : ''}`);
}

function splitSubsections(section: string): string[] {
  return section
    .split(/\n(?=### )/)
    .slice(1)
    .map((part) => part.trim());
}
