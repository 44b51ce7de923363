// node-redis (v4, promise API; Debian's node-redis package) against Sesame, unchanged:
// connect, SET/GET, HSET/HGETALL, MULTI/EXEC, a WATCH conflict, and the SCAN iterator
// connect-redis (express-session) uses for sess:* keys.
// Needs: apt node-redis (modules under /usr/share/nodejs: run with NODE_PATH including it).
'use strict';
const assert = require('assert');
const { createClient } = require('redis');

const port = Number(process.env.SESAME_PORT || 0);
if (!port) { console.error('SESAME_PORT is not set'); process.exit(2); }

let current = 'start';
function step(name) { current = name; console.log(`step: ${name}`); }
setTimeout(() => { console.log(`FAIL: watchdog: still running after 15 s (step: ${current})`); process.exit(3); }, 15000).unref();

async function main() {
  const version = require('redis/package.json').version;
  console.log(`node-redis ${version}, node ${process.version}`);
  const opts = { socket: { host: '127.0.0.1', port, connectTimeout: 5000, reconnectStrategy: false } };
  const client = createClient(opts);
  const errors = [];
  client.on('error', (e) => errors.push(String(e)));

  step('connect + PING');
  await client.connect();
  assert.strictEqual(await client.ping(), 'PONG');

  step('SET/GET');
  assert.strictEqual(await client.set('sess:node:1', 'v1', { EX: 600 }), 'OK');
  assert.strictEqual(await client.get('sess:node:1'), 'v1');
  assert.strictEqual(await client.get('sess:node:missing'), null);
  const ttl = await client.ttl('sess:node:1');
  assert.ok(ttl > 590 && ttl <= 600, `TTL ${ttl}`);

  step('HSET/HGETALL');
  assert.strictEqual(await client.hSet('node:h', { userId: '42', role: 'admin' }), 2);
  assert.deepStrictEqual({ ...(await client.hGetAll('node:h')) }, { userId: '42', role: 'admin' });

  step('MULTI/EXEC');
  const replies = await client.multi()
    .set('node:m', 'x')
    .get('node:m')
    .hSet('node:h', 'visits', '1')
    .expire('node:m', 60)
    .del('node:m')
    .exec();
  assert.deepStrictEqual(replies, ['OK', 'x', 1, true, 1]);

  step('WATCH conflict rejects EXEC');
  const isolated = await client.duplicate();
  isolated.on('error', (e) => errors.push(String(e)));
  await isolated.connect();
  await isolated.watch('node:w');
  await client.set('node:w', 'changed');
  let aborted = false;
  try {
    await isolated.multi().set('node:w', 'mine').exec();
  } catch (e) {
    aborted = e && (e.name === 'WatchError' || /watch/i.test(String(e.message)));
    if (!aborted) throw e;
  }
  assert.ok(aborted, 'EXEC after a conflicting write did not abort');
  assert.strictEqual(await client.get('node:w'), 'changed');
  await isolated.quit();

  step('SET/GET sess:* then scanIterator MATCH sess:* (connect-redis all()/length())');
  for (let i = 2; i <= 25; i++) await client.set(`sess:node:${i}`, `v${i}`);
  const found = [];
  for await (const key of client.scanIterator({ MATCH: 'sess:*', COUNT: 10 })) found.push(key);
  found.sort();
  const expected = Array.from({ length: 25 }, (_, i) => `sess:node:${i + 1}`).sort();
  assert.deepStrictEqual(found, expected);

  step('MGET');
  assert.deepStrictEqual(await client.mGet(['sess:node:1', 'sess:node:2', 'nope']), ['v1', 'v2', null]);

  step('QUIT');
  await client.quit();
  assert.deepStrictEqual(errors, []);
}

main().then(
  () => { console.log('CLIENTMATRIX PASS node-redis'); process.exit(0); },
  (e) => { console.log(`FAIL in step '${current}': ${e && e.stack || e}`); process.exit(1); },
);
