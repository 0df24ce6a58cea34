// The README and docs/ name only npm scripts that exist, and every relative link in them resolves (file and heading).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts,
);

/** README.md, CONTRIBUTING.md and every page under docs/, as paths relative to the repository root. */
function pages(): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file));
  return ['README.md', 'CONTRIBUTING.md', ...docs].sort();
}

/**
 * The scripts a text runs through npm: `npm run X`, `npm --silent run X`, `npm run-script X`, and the built-in
 * shorthands (`npm test`, `npm start`, ...), which run a script of that name too.
 */
function scriptsNamed(text: string): string[] {
  const named = new Set<string>();
  for (const match of text.matchAll(/\bnpm(?:\s+-{1,2}[\w-]+)*\s+(?:run|run-script)\s+([\w:.-]+)/g)) {
    named.add(match[1] ?? '');
  }
  for (const match of text.matchAll(/\bnpm(?:\s+-{1,2}[\w-]+)*\s+(test|start|stop|restart)\b/g)) {
    named.add(match[1] ?? '');
  }
  return [...named];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, ... */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = (heading[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Fenced code blocks blanked out: a `[x](y)` or a `# comment` inside one is neither a link nor a heading. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '');
}

/** Relative links of a page (repository-relative path `page`, text `markdown`) whose file or heading is missing. */
function brokenLinks(page: string, markdown: string, read: (path: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const match of withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path = '', anchor] = target.split('#', 2);
    const file = path === '' ? page : relative(root, resolve(root, dirname(page), path));
    const text = read(file);
    if (text === undefined) {
      broken.push(`${page}: ${target} (no file ${file})`);
    } else if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(text).has(anchor)) {
      broken.push(`${page}: ${target} (no heading #${anchor} in ${file})`);
    }
  }
  return broken;
}

const readRepoFile = (path: string): string | undefined => {
  const full = join(root, path);
  if (!existsSync(full)) return undefined;
  return path.endsWith('.md') ? readFileSync(full, 'utf8') : '';
};

describe('documentation', () => {
  it('names only npm scripts that package.json defines', () => {
    const missing = pages().flatMap((page) =>
      scriptsNamed(readFileSync(join(root, page), 'utf8'))
        .filter((script) => !scripts.includes(script))
        .map((script) => `${page}: npm run ${script}`),
    );

    expect(missing).toEqual([]);
  });

  it('has only relative links whose file and heading exist', () => {
    const broken = pages().flatMap((page) =>
      brokenLinks(page, readFileSync(join(root, page), 'utf8'), readRepoFile),
    );

    expect(broken).toEqual([]);
  });

  it('keeps the README a front door of about 150 lines', () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n').length;

    expect(lines).toBeLessThanOrEqual(160);
  });
});

describe('the documentation checks themselves', () => {
  it('find every way of naming a script, and only scripts', () => {
    const text = [
      'npm run test:unit, npm --silent run token -- --sub a, npm run-script bench',
      'npm test, npm start -- --identity, npm ci && npm install, npx vitest run',
    ].join('\n');

    expect(scriptsNamed(text).sort()).toEqual(['bench', 'start', 'test', 'test:unit', 'token']);
  });

  it('report a missing file and a missing heading, not links in code or to the web', () => {
    const files: Record<string, string> = { 'docs/a.md': '# A page\n\n## Signed locally (HMAC)\n' };
    const page = [
      '[ok](a.md#signed-locally-hmac) [web](https://example.com/x.md) [self](#top)',
      '[gone](b.md) [no heading](a.md#nowhere)',
      '```',
      '[in code](missing.md)',
      '```',
      '# Top',
    ].join('\n');

    files['docs/page.md'] = page;

    expect(brokenLinks('docs/page.md', page, (path) => files[path])).toEqual([
      'docs/page.md: b.md (no file docs/b.md)',
      'docs/page.md: a.md#nowhere (no heading #nowhere in docs/a.md)',
    ]);
  });
});
