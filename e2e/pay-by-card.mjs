// Coffee Radar browser journey for card payment: a shopper orders, pays on the pay page with
// Stripe.js (localstripe's stand-in, from the provider's address the shop is set up with),
// then pays a second order with a card that asks for 3-D Secure.
// Usage: node e2e/pay-by-card.mjs http://127.0.0.1:PORT http://127.0.0.1:STRIPE_PORT
// (prints "N passed, M failed" last)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [base, provider] = process.argv.slice(2).map((u) => (u || '').replace(/\/+$/, ''));
if (![base, provider].every((u) => /^https?:\/\/[^/]+$/.test(u))) {
  console.error('usage: node e2e/pay-by-card.mjs http://127.0.0.1:PORT http://127.0.0.1:STRIPE_PORT');
  process.exit(2);
}
const shots = new URL('./screenshots/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const assert = (ok, message) => { if (!ok) throw new Error(message); };
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
await context.route('**/*', (route) => { // the shop and its payment provider, nothing else
  const origin = new URL(route.request().url()).origin;
  if (origin === base || origin === provider) return route.continue();
  problems.push(`off-site request blocked: ${origin}`);
  return route.abort();
});

let passed = 0, failed = 0;
async function step(name, fn) {
  if (failed) return;
  try {
    await fn();
    assert(problems.length === 0, `browser errors:\n  ${problems.join('\n  ')}`);
    await page.screenshot({ path: `${shots}card-${name}.png`, fullPage: true });
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    await page.screenshot({ path: `${shots}FAILED-card-${name}.png`, fullPage: true }).catch(() => {});
    failed += 1;
    console.error(`FAIL ${name} at ${page.url()}\n  ${err.message.split('\n').join('\n  ')}`);
  }
}
async function clickAndLoad(locator) {
  const loaded = page.waitForEvent('load');
  await locator.click();
  await loaded;
}

// A card order of one mug, placed through the checkout page; ends on the pay page.
async function orderByCard() {
  const added = await context.request.post(`${base}/api/v1/cart/items`, { data: { variant_id: 1, quantity: 1 } });
  assert(added.status() === 201, `adding to the cart answered ${added.status()}`);
  await page.goto(`${base}/checkout`);
  await page.getByLabel('Street and number').fill('12 Calle Mayor');
  await page.getByLabel('Postal code').fill('28013');
  await page.getByLabel('City').fill('Madrid');
  await page.getByLabel('Country').selectOption('ES');
  await page.getByLabel('Card').check();
  await clickAndLoad(page.getByRole('button', { name: 'Place order' }));
  assert(/\/orders\/[A-Z0-9]{6}\/pay$/.test(page.url()), `expected the pay page, got ${page.url()}`);
}

async function enterCard(number) {
  const card = page.locator('#card-element');
  await card.getByPlaceholder('number').fill(number);
  await card.getByPlaceholder('exp_month').fill('12');
  await card.getByPlaceholder('exp_year').fill('40');
  await card.getByPlaceholder('cvc').fill('123');
  await card.getByPlaceholder('postal_code').fill('28013');
}

async function expectPaid() {
  assert(/\/orders\/[A-Z0-9]{6}$/.test(page.url()), `expected the order page, got ${page.url()}`);
  const status = norm(await page.locator('.status').first().textContent());
  assert(status === 'paid', `order status is "${status}", expected "paid"`);
  const by = norm(await page.locator('.paid-by').textContent());
  assert(by === 'Paid by card.', `the order says "${by}"`);
}

await step('sign-up', async () => {
  const made = await context.request.post(`${base}/api/v1/users`, {
    data: { username: 'cardholder', email: 'cardholder@example.test', password: 'flat white at noon 7', first_name: 'Cleo' },
  });
  assert(made.status() === 201, `registering answered ${made.status()}`);
  await page.goto(`${base}/signin`);
  await page.getByLabel('Username or email', { exact: true }).fill('cardholder');
  await page.getByLabel('Password', { exact: true }).fill('flat white at noon 7');
  await clickAndLoad(page.getByRole('button', { name: 'Sign in' }));
});

await step('pay-page', async () => {
  await orderByCard();
  await page.locator('#card-element input').first().waitFor();
  await enterCard('4242424242424242');
  const total = norm(await page.locator('.pay-total').textContent());
  assert(total === '$16.95', `the pay page asks for "${total}", expected $16.95 (a mug and Standard delivery)`);
});

await step('paid', async () => {
  await clickAndLoad(page.getByRole('button', { name: /^Pay / }));
  await expectPaid();
});

await step('3d-secure', async () => {
  await orderByCard();
  await page.locator('#card-element input').first().waitFor();
  await enterCard('4000002500003155');
  await clickAndLoad(page.getByRole('button', { name: /^Pay / }));
  // The shop sends the page back for the bank's check; Stripe.js shows it.
  const confirm = page.getByRole('button', { name: 'Complete authentication' });
  await confirm.waitFor();
  await page.screenshot({ path: `${shots}card-3d-secure-asked.png`, fullPage: true });
  const loaded = page.waitForURL(/\/orders\/[A-Z0-9]{6}$/);
  await confirm.click();
  await loaded;
  await page.waitForLoadState('load');
  await expectPaid();
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
