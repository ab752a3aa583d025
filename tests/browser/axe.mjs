// Opens pages in Debian's Chromium (playwright-core, one browser for every page), runs axe-core
// on each and takes a full-page screenshot.
//
//   node axe.mjs jobs.json results.json
//
// jobs.json: {"pages": [{"name", "url", "width", "locale"?, "screenshot"?}]}
// results.json: {"axe": version, "pages": {name: {"lang", "title", "violations": [...],
//                "console_errors": [...], "status", "error"?}}}
// A page that cannot be opened gets an `error` rather than stopping the others: the caller reports
// every page. Exit status 2 only when the browser itself cannot start or the input is unreadable.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_VERSION = require('axe-core/package.json').version;

// Every WCAG 2.0, 2.1 and 2.2 level A and AA rule, and axe's best practices.
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa', 'best-practice'];

// The flags this machine's closed network needs (no background calls home, no QUIC).
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'];

const HEIGHT = 900;
const NAVIGATION_TIMEOUT_MS = 30000;

// Pages of one width and locale share a tab: opening a tab costs more than checking a page, and
// axe (half a megabyte of script) is compiled once per tab. It is added to each document through
// the DevTools protocol, so the page's own CSP (no scripts at all) stays in force.
async function openTab(browser, width, locale) {
  const context = await browser.newContext({ viewport: { width, height: HEIGHT }, deviceScaleFactor: 1, locale });
  await context.addInitScript(AXE_SOURCE);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  return { context, page, consoleErrors };
}

async function checkPage(tab, job) {
  const { page, consoleErrors } = tab;
  consoleErrors.length = 0;
  try {
    const response = await page.goto(job.url, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS });
    const outcome = await page.evaluate(async (tags) => {
      const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
      return {
        lang: document.documentElement.getAttribute('lang'),
        title: document.title,
        violations: result.violations.map((violation) => ({
          id: violation.id,
          impact: violation.impact,
          help: violation.help,
          nodes: violation.nodes.map((node) => ({ target: node.target, html: node.html, summary: node.failureSummary })),
        })),
      };
    }, AXE_TAGS);
    if (job.screenshot) {
      mkdirSync(dirname(job.screenshot), { recursive: true });
      await page.screenshot({ path: job.screenshot, fullPage: true });
    }
    return { ...outcome, status: response ? response.status() : null, console_errors: [...consoleErrors] };
  } catch (error) {
    return { error: String(error), console_errors: [...consoleErrors] };
  }
}

async function main() {
  const [jobsPath, resultsPath] = process.argv.slice(2);
  if (!jobsPath || !resultsPath) {
    console.error('usage: node axe.mjs jobs.json results.json');
    process.exit(2);
  }
  const { pages } = JSON.parse(readFileSync(jobsPath, 'utf8'));
  const browser = await chromium.launch({
    executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  const results = {};
  const tabs = new Map();
  try {
    for (const job of pages) {
      const locale = job.locale || 'en-US';
      const key = `${job.width} ${locale}`;
      if (!tabs.has(key)) tabs.set(key, await openTab(browser, job.width, locale));
      results[job.name] = await checkPage(tabs.get(key), job);
    }
  } finally {
    await browser.close();
  }
  writeFileSync(resultsPath, JSON.stringify({ axe: AXE_VERSION, tags: AXE_TAGS, pages: results }, null, 1));
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
