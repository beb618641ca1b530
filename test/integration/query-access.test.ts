/**
 * Who may ask the query API: loopback by default; beyond it, a bearer token
 * on every request but the probes, and HTTPS when given a certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';

const rules = join(repo, 'examples/retail/retail.aud');
const cli = join(repo, 'dist/cli/aud.js');

test('the query API refuses to listen beyond loopback without a token, before Kafka is touched', () => {
  const env = { ...process.env };
  delete env.AUD_HTTP_TOKEN;
  const r = spawnSync(process.execPath, [cli, 'run', rules, '--brokers', '127.0.0.1:9', '--http', '0', '--http-host', '0.0.0.0'], { encoding: 'utf8', env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot serve the query API: the query API would listen on 0\.0\.0\.0, beyond this machine, with no token/);
  assert.match(r.stderr, /set AUD_HTTP_TOKEN \(or --http-token\)/);
  const short = spawnSync(process.execPath, [cli, 'run', rules, '--brokers', '127.0.0.1:9', '--http', '0', '--http-token', 'abc'], { encoding: 'utf8', env });
  assert.equal(short.status, 1);
  assert.match(short.stderr, /token is shorter than 16 characters/);
});

test('beyond loopback, over HTTPS: 401 without the token, 200 with it; the probes stay open; the token never reaches the logs', async () => {
  const input = uniqueTopic('access-in');
  await createTopic(input, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-access-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' });
  const ca = await readFile(join(work, 'cert.pem'));
  const token = `t-${Date.now()}-0123456789abcdef`;
  const engine = new EngineProcess([rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', `${input}.out`,
    '--state-dir', join(work, 'state'), '--group', `g-${input}`, '--http', '0', '--http-host', '0.0.0.0',
    '--http-tls-cert', join(work, 'cert.pem'), '--http-tls-key', join(work, 'key.pem')], { ...process.env, AUD_HTTP_TOKEN: token });
  const get = (path: string, auth?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: '127.0.0.1', checkServerIdentity: () => undefined,
      headers: auth ? { authorization: auth } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
  let port = 0;
  try {
    await engine.waitForLog(/query API listening/);
    const line = engine.logs.find((l) => /query API listening/.test(l))!;
    port = Number(/url=https:\/\/0\.0\.0\.0:(\d+)/.exec(line)?.[1]);
    assert.ok(port > 0, line);
    await engine.waitForLog(/partition assigned/);

    const denied = await get('/customers/c-1');
    assert.equal(denied.status, 401);
    assert.match(denied.body, /needs Authorization: Bearer <token>/);
    assert.equal((await get('/audiences', 'Bearer wrong-token-of-some-length')).status, 401);
    assert.equal((await get('/metrics')).status, 401);
    const allowed = await get('/audiences', `Bearer ${token}`);
    assert.equal(allowed.status, 200, allowed.body);
    assert.ok('sizes' in JSON.parse(allowed.body));
    assert.equal((await get('/health')).status, 200, 'probes need no token');
    assert.equal(engine.logs.some((l) => l.includes(token)), false, 'the token is not logged');
  } finally {
    await engine.stop();
    await rm(work, { recursive: true, force: true });
  }
});
