// Lighthouse on the shop's main pages (home, shop, a product, a cart with a line in it), in
// Debian's headless Chromium with no way out of the machine. Accessibility, best practices
// and SEO must each score at least LIGHTHOUSE_MIN (default 95); performance is reported.
// Usage: node e2e/lighthouse.mjs http://127.0.0.1:PORT   (prints "N passed, M failed" last)
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!/^https?:\/\/[^/]+$/.test(base)) { console.error('usage: node e2e/lighthouse.mjs http://127.0.0.1:PORT'); process.exit(2); }
const minimum = Number(process.env.LIGHTHOUSE_MIN || 95);
const gated = ['accessibility', 'best-practices', 'seo'];
const reports = new URL('./lighthouse/', import.meta.url).pathname;
mkdirSync(reports, { recursive: true });
const cli = createRequire(import.meta.url).resolve('lighthouse/cli/index.js');
const chromeFlags = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  "--host-resolver-rules='MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'"].join(' ');

// A guest's cart with a mug in it, so that the cart page is audited with a line.
async function cartCookie() {
  const product = await fetch(`${base}/shop/coffee-radar-mug`);
  const html = await product.text();
  const csrf = html.match(/name="csrf" value="([^"]+)"/)?.[1];
  const variant = html.match(/name="variant_id" value="(\d+)"[^>]* checked/)?.[1];
  const csrfCookie = (product.headers.getSetCookie() || []).map((c) => c.split(';')[0]).join('; ');
  const added = await fetch(`${base}/cart/items`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie, origin: base },
    body: new URLSearchParams({ csrf, variant_id: variant, quantity: '1' }),
  });
  const session = (added.headers.getSetCookie() || []).map((c) => c.split(';')[0]);
  return [csrfCookie, ...session].filter(Boolean).join('; ');
}

const pages = [['home', '/'], ['shop', '/shop'], ['product', '/shop/coffee-radar-mug'], ['cart', '/cart']];
const cookie = await cartCookie();
let passed = 0, failed = 0;
for (const [name, path] of pages) {
  const output = `${reports}${name}.json`;
  const args = [cli, `${base}${path}`, '--quiet', '--output=json', `--output-path=${output}`,
    `--chrome-flags=${chromeFlags}`, '--only-categories=performance,accessibility,best-practices,seo'];
  if (name === 'cart') args.push(`--extra-headers=${JSON.stringify({ Cookie: cookie })}`);
  try {
    await promisify(execFile)(process.execPath, args, {
      env: { ...process.env, CHROME_PATH: process.env.CHROMIUM_PATH || '/usr/bin/chromium' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    failed += 1;
    console.error(`FAIL ${name}: Lighthouse did not run: ${String(err.stderr || err.message).split('\n').slice(-3).join(' ')}`);
    continue;
  }
  const report = JSON.parse(readFileSync(output, 'utf8'));
  const score = (id) => Math.round((report.categories[id]?.score ?? 0) * 100);
  const low = gated.filter((id) => score(id) < minimum);
  const line = [...gated, 'performance'].map((id) => `${id} ${score(id)}`).join(', ');
  if (low.length === 0) {
    passed += 1;
    console.log(`ok   ${name} (${path}): ${line}`);
  } else {
    failed += 1;
    const audits = Object.values(report.audits)
      .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === 'binary')
      .map((a) => a.id);
    console.error(`FAIL ${name} (${path}): ${line}; below ${minimum}: ${low.join(', ')}; failing audits: ${audits.join(', ')}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
