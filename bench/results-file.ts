/**
 * bench/RESULTS.md is written by more than one script: `npm run bench` owns its top sections,
 * `npm run bench:cost` the "Issue 9: costs and limits" section at the end, one subsection per
 * part it ran. Each replaces only what it owns.
 */
import { readFile, writeFile } from 'node:fs/promises';

export const RESULTS = new URL('./RESULTS.md', import.meta.url);
export const ISSUE_9 = '## Issue 9: costs and limits';

/** The Issue 9 section of the results (from its heading to the end), or '' when there is none. */
export async function issue9Section(): Promise<string> {
  const text = await readFile(RESULTS, 'utf8').catch(() => '');
  const at = text.indexOf(`\n${ISSUE_9}\n`);
  return at === -1 ? '' : text.slice(at + 1);
}

/** Writes these subsections (each starting with its `### ` heading) into the Issue 9 section, replacing those of the same heading. */
export async function writeIssue9(intro: string, subsections: string[]): Promise<void> {
  const text = await readFile(RESULTS, 'utf8');
  const at = text.indexOf(`\n${ISSUE_9}\n`);
  const before = at === -1 ? `${text.trimEnd()}\n` : text.slice(0, at + 1);
  const existing = at === -1 ? [] : splitSubsections(text.slice(at + 1));
  const heading = (part: string) => part.split('\n', 1)[0]!;
  for (const part of subsections) {
    const index = existing.findIndex((old) => heading(old) === heading(part));
    if (index === -1) existing.push(part.trim());
    else existing[index] = part.trim();
  }
  await writeFile(RESULTS, `${before}\n${ISSUE_9}\n\n${intro.trim()}\n\n${existing.join('\n\n')}\n`);
}

function splitSubsections(section: string): string[] {
  return section
    .split(/\n(?=### )/)
    .slice(1)
    .map((part) => part.trim());
}
