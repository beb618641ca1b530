/** What RESULTS.md says about the machine and the versions, read at run time. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  nproc: number; memoryGb: number; cpuModel: string; kernel: string;
  node: string; kafkaClient: string; librdkafka: string; broker: string; java: string; kafkaStreams: string;
}

function tryRun(cmd: string, args: string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim(); } catch (e) {
    return ((e as { stderr?: string }).stderr ?? '').trim() || 'unknown';
  }
}

export function machineInfo(repo: string): MachineInfo {
  const pkg = (name: string): Record<string, unknown> => {
    try { return JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')) as Record<string, unknown>; } catch { return {}; }
  };
  const client = pkg('@confluentinc/kafka-javascript');
  // The broker's version: from the jar on its class path (the broker runs on this machine).
  const ps = tryRun('ps', ['-eo', 'args']);
  const broker = /kafka_[\d.]+-([\d.]+)\.jar/.exec(ps)?.[1]
    ?? /-cp (\S+)\/\*\s+kafka\.Kafka/.exec(ps)?.[1] ?? 'unknown';
  let brokerVersion = broker;
  if (!/^\d/.test(broker)) {
    const lib = /-cp (\S+)\/\*\s+kafka\.Kafka/.exec(ps)?.[1];
    brokerVersion = lib ? (/kafka_[\d.]+-([\d.]+)\.jar/.exec(tryRun('ls', [lib]))?.[1] ?? 'unknown') : 'unknown';
  }
  const pom = readFileSync(join(repo, 'bench/peers/kafka-streams/pom.xml'), 'utf8');
  return {
    nproc: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: tryRun('uname', ['-r']),
    node: process.version,
    kafkaClient: String(client.version ?? 'unknown'),
    librdkafka: String((client as { librdkafka?: string }).librdkafka ?? 'unknown'),
    broker: brokerVersion,
    java: spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr?.split('\n')[0]?.trim() || 'unknown',
    kafkaStreams: /<kafka\.version>([^<]+)</.exec(pom)?.[1] ?? 'unknown',
  };
}
