// Coffee Radar browser journey: register, shop, cart, checkout, orders, profile picture, radar.
// Usage: node e2e/journey.mjs http://127.0.0.1:PORT   (prints "N passed, M failed" last)
import { chromium } from 'playwright-core';
import { mkdirSync, rmSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!/^https?:\/\/[^/]+$/.test(base)) { console.error('usage: node e2e/journey.mjs http://127.0.0.1:PORT'); process.exit(2); }
const shots = new URL('./screenshots/', import.meta.url).pathname;
rmSync(shots, { recursive: true, force: true }); // fresh screenshots each run
mkdirSync(shots, { recursive: true });

// ---- tiny helpers -------------------------------------------------------
const assert = (ok, message) => { if (!ok) throw new Error(message); };
const norm = (s) => (s || '').replace(/\r\n/g, '\n').replace(/\s+/g, ' ').trim();

function makePng(width, height) { // real RGB PNG built with zlib, no canvas needed
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
    return n >>> 0;
  });
  const crc = (buf) => { let c = ~0; for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8); return ~c >>> 0; };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0); body.copy(out, 4); out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1); // filter byte 0, then RGB pixels: a coffee-coloured gradient
    for (let x = 0; x < width; x++) raw.set([111 + (x * 100) / width, 78 + (y * 80) / height, 55], row + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13); // 8-bit RGB, no interlace
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4); ihdr.set([8, 2], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- browser ------------------------------------------------------------
let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
  });
} catch (err) {
  console.error(`could not launch Chromium: ${err.message}`);
  console.log('0 passed, 1 failed'); process.exit(1);
}
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);

const jsErrors = [];
const visited = new Set([`${base}/`]);
page.on('pageerror', (err) => jsErrors.push(`page error: ${err.message}`));
page.on('console', (msg) => {
  if (msg.type() === 'error') jsErrors.push(`console error: ${msg.text()} (${msg.location().url || 'no url'})`);
});
page.on('load', () => visited.add(page.url()));
await context.route('**/*', (route) => { // belt and braces: the journey talks to the shop only
  const url = new URL(route.request().url());
  if (url.origin === new URL(base).origin) return route.continue();
  jsErrors.push(`off-site request blocked: ${url.href}`);
  return route.abort();
});

let passed = 0, failed = 0, stopped = false, index = 0;
// One named step: run it, check for JS errors, screenshot it; the first failure stops the journey.
async function step(name, fn) {
  index += 1;
  if (stopped) return;
  const shot = (file) => page.screenshot({ path: shots + file, fullPage: true }).catch(() => {});
  try {
    await fn();
    assert(jsErrors.length === 0, `browser errors (JavaScript, console, off-site requests):\n  ${jsErrors.join('\n  ')}`);
    await shot(`${String(index).padStart(2, '0')}-${name}.png`);
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    await shot(`FAILED-${name}.png`);
    failed += 1;
    stopped = true;
    console.error(`FAIL ${name} at ${page.url()}\n  ${err.message.split('\n').join('\n  ')}`);
    console.error(`  screenshot: e2e/screenshots/FAILED-${name}.png`);
  }
}
async function clickAndLoad(locator) { // submit a form or follow a link, wait for the next page
  const loaded = page.waitForEvent('load');
  await locator.click();
  await loaded;
}
const expectPath = (pattern, path = new URL(page.url()).pathname) =>
  assert(pattern.test(path), `expected path ${pattern}, got ${path}`);
async function statusText() {
  const status = page.getByRole('status');
  assert(await status.count() > 0, 'no status message on the page');
  return norm(await status.first().textContent());
}

// ---- the journey ---------------------------------------------------------
const username = `e2e${Date.now().toString(36)}`.slice(0, 32);
const address = '12 Calle Mayor\n28013 Madrid';
let orderCode = '';

await step('register', async () => {
  await page.goto(`${base}/register`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Email', { exact: true }).fill(`${username}@example.test`);
  await page.getByLabel('Password', { exact: true }).fill('correct horse 42');
  await page.getByLabel('Confirm password', { exact: true }).fill('correct horse 42');
  await page.getByLabel('First name', { exact: true }).fill('Ada');
  await page.getByLabel(/^Address/).fill(address);
  await clickAndLoad(page.getByRole('button', { name: 'Create account' }));
  expectPath(/^\/shop$/);
  const status = await statusText();
  assert(status.includes('Welcome'), `status message "${status}" lacks "Welcome"`);
});

await step('shop', async () => {
  expectPath(/^\/shop$/);
  await page.getByRole('heading', { name: 'Shop', exact: true }).waitFor();
  const cards = await page.locator('article.product-card').count();
  assert(cards >= 5, `expected at least 5 product cards, found ${cards}`);
  await clickAndLoad(page.getByRole('link', { name: 'Coffee Radar Mug', exact: true }));
});

await step('product', async () => {
  const h1 = norm(await page.locator('h1').textContent());
  assert(h1 === 'Coffee Radar Mug', `product h1 is "${h1}"`);
  await page.locator('fieldset.variant-picker input[type=radio]:not([disabled])').nth(1).check();
  await page.getByLabel('Quantity', { exact: true }).fill('2');
  await clickAndLoad(page.getByRole('button', { name: 'Add to cart' }));
  expectPath(/^\/cart$/);
  const table = norm(await page.locator('table').first().textContent());
  assert(table.includes('Coffee Radar Mug'), `cart table lacks the mug: "${table}"`);
  const badge = norm(await page.locator('.cart-link .badge').textContent());
  assert(badge === '2', `cart badge shows "${badge}", expected "2"`);
});

await step('checkout', async () => {
  await clickAndLoad(page.getByRole('link', { name: 'Checkout', exact: true }));
  expectPath(/^\/checkout$/);
  await page.getByLabel('Express').check();
  await page.getByLabel('Street and number').fill('12 Calle Mayor');
  await page.getByLabel('Postal code').fill('28013');
  await page.getByLabel('City').fill('Madrid');
  await page.getByLabel('Country').selectOption('ES');
  await clickAndLoad(page.getByRole('button', { name: 'Update totals' }));
  const delivery = norm(await page.locator('.totals .delivery').textContent());
  assert(delivery === '$12.95', `Express delivery is "${delivery}", expected "$12.95"`);
  await clickAndLoad(page.getByRole('button', { name: 'Place order' }));
  const match = page.url().match(/\/orders\/([A-Z0-9]{6})$/);
  assert(match, `expected /orders/CODE after checkout, got ${page.url()}`);
  orderCode = match[1];
  const pill = norm(await page.locator('.status').first().textContent());
  assert(pill === 'placed', `order status is "${pill}", expected "placed"`);
  assert(norm(await page.locator('.order-total').textContent()), 'order total is empty');
});

await step('history', async () => {
  await page.goto(`${base}/orders`);
  const row = page.locator('table tbody tr').filter({ has: page.getByRole('link', { name: orderCode, exact: true }) });
  assert(await row.count() === 1, `no order row linking to ${orderCode}`);
  const href = await row.getByRole('link', { name: orderCode }).getAttribute('href');
  assert(href === `/orders/${orderCode}`, `order link points to "${href}"`);
});

await step('profile-picture', async () => {
  await page.goto(`${base}/profile`);
  const buffer = makePng(600, 400);
  await page.getByLabel('Profile picture', { exact: true }).setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer });
  await clickAndLoad(page.getByRole('button', { name: 'Upload picture' }));
  const status = await statusText();
  assert(status.includes('picture is updated'), `status message "${status}" lacks "picture is updated"`);
  await page.waitForFunction(() => document.querySelector('img.avatar')?.complete);
  const width = await page.locator('img.avatar').evaluate((img) => img.naturalWidth);
  assert(width > 0 && width <= 512, `avatar naturalWidth is ${width}, expected 1..512`);
});

await step('radar', async () => {
  await page.goto(`${base}/radar`);
  await page.getByLabel('City', { exact: true }).selectOption({ label: 'Madrid' });
  await clickAndLoad(page.getByRole('button', { name: 'Find coffee' }));
  const places = page.locator('ol.places li.place');
  const count = await places.count();
  assert(count >= 3, `expected at least 3 places, found ${count}`);
  assert(norm(await places.first().locator('.distance').textContent()), 'first place has no distance text');
});

await step('footer', async () => {
  for (const url of [...visited]) {
    await page.goto(url);
    const servedBy = await page.locator('.served-by').count() ? norm(await page.locator('.served-by').textContent()) : '';
    assert(servedBy.startsWith('Served by'), `${url}: footer .served-by is "${servedBy}"`);
  }
});

// Staff: the Insights page, as the shop's owner sees it after the journey's order. The
// account is made by test.sh (registered, then promoted with `coffee-radar admin grant`).
const staff = process.env.E2E_STAFF_USER;
if (staff) {
  await step('insights', async () => {
    await clickAndLoad(page.getByRole('button', { name: 'Sign out' }));
    await page.goto(`${base}/signin`);
    await page.getByLabel('Username or email', { exact: true }).fill(staff);
    await page.getByLabel('Password', { exact: true }).fill(process.env.E2E_STAFF_PASSWORD || '');
    await clickAndLoad(page.getByRole('button', { name: 'Sign in' }));
    await page.goto(`${base}/admin/insights`);
    const h1 = norm(await page.locator('h1').textContent());
    assert(h1 === 'Insights', `insights h1 is "${h1}"`);
    const charts = await page.locator('svg.chart[role=img]').count();
    assert(charts === 3, `expected 3 charts, found ${charts}`);
    const orders = norm(await page.locator('#orders').textContent());
    assert(Number(orders) >= 1, `the journey's order is not counted: "${orders}"`);
    const funnelRows = await page.locator('#funnel tbody tr').count();
    assert(funnelRows === 4, `expected 4 funnel steps, found ${funnelRows}`);
  });
}

await browser.close();
if (index - passed - failed > 0) console.log(`${index - passed - failed} steps not run`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === index ? 0 : 1);
