// node-redis's cluster client (createCluster, v4), unchanged, against `sesame-server
// --cluster-enabled yes` (or any node of a real Redis Cluster): slot discovery, routing, the
// session operations on keys sharing a {hash tag}, MULTI on one slot, and the node's CROSSSLOT
// refusal for a request spanning slots.
// Needs: apt node-redis (modules under /usr/share/nodejs: run with NODE_PATH including it).
'use strict';
const assert = require('assert');
const { createCluster } = require('redis');

const port = Number(process.env.SESAME_PORT || 0);
if (!port) { console.error('SESAME_PORT is not set'); process.exit(2); }

let current = 'start';
function step(name) { current = name; console.log(`step: ${name}`); }
setTimeout(() => { console.log(`FAIL: watchdog: still running after 15 s (step: ${current})`); process.exit(3); }, 15000).unref();

async function main() {
  const version = require('redis/package.json').version;
  console.log(`node-redis ${version}, node ${process.version}`);
  const cluster = createCluster({
    rootNodes: [{ socket: { host: '127.0.0.1', port, connectTimeout: 5000, reconnectStrategy: false } }],
  });
  const errors = [];
  cluster.on('error', (e) => errors.push(String(e)));

  step('connect (CLUSTER SLOTS discovery)');
  await cluster.connect();
  assert.ok(cluster.getMasters().length >= 1, `masters ${cluster.getMasters().length}`);

  step('session create: HSET + EXPIRE + SADD on one {hash tag}');
  const sid = 'sess:{77}:node';
  const index = 'user_sessions:{77}';
  await cluster.del(sid);
  await cluster.del(index);
  assert.strictEqual(await cluster.hSet(sid, { userId: '77', ip: '10.0.0.2' }), 2);
  assert.strictEqual(await cluster.expire(sid, 1800), true);
  assert.strictEqual(await cluster.sAdd(index, sid), 1);
  assert.deepStrictEqual({ ...(await cluster.hGetAll(sid)) }, { userId: '77', ip: '10.0.0.2' });
  const ttl = await cluster.ttl(sid);
  assert.ok(ttl > 1790 && ttl <= 1800, `TTL ${ttl}`);

  step('keys over many slots');
  for (let i = 0; i < 50; i++) await cluster.set(`node:spread:${i}`, String(i), { EX: 600 });
  for (let i = 0; i < 50; i++) assert.strictEqual(await cluster.get(`node:spread:${i}`), String(i));

  step('MULTI/EXEC within one slot');
  const replies = await cluster.multi(sid)
    .hSet(sid, 'visits', '1')
    .expire(sid, 1800)
    .sCard(index)
    .exec();
  assert.deepStrictEqual(replies, [1, true, 1]);

  step('MGET within one slot');
  assert.deepStrictEqual(await cluster.mGet([`${sid}:a`, `${sid}:b`]), [null, null]);

  step('CROSSSLOT from the node for a request spanning slots');
  await assert.rejects(cluster.sendCommand('node:spread:1', false, ['MGET', 'node:spread:1', 'node:spread:2']),
                       (e) => String(e).includes("CROSSSLOT Keys in request don't hash to the same slot"));

  step('log out everywhere');
  for (const s of await cluster.sMembers(index)) await cluster.del(s);
  assert.strictEqual(await cluster.del(index), 1);
  assert.strictEqual(await cluster.exists(sid), 0);
  for (let i = 0; i < 50; i++) await cluster.del(`node:spread:${i}`);

  await cluster.disconnect();
  assert.deepStrictEqual(errors, []);
  console.log('CLIENTMATRIX PASS node-redis-cluster');
}

main().catch((e) => { console.log(`FAIL in step '${current}': ${e && e.stack || e}`); process.exit(1); });
