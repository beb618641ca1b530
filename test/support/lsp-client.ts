/**
 * A small JSON-RPC client for language server tests: spawns `aud lsp`, frames
 * messages with Content-Length headers, matches responses to requests, and
 * collects notifications (publishDiagnostics) so a test can wait for them.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'dist/cli/aud.js');

interface Message { id?: number; method?: string; params?: unknown; result?: unknown; error?: { code: number; message: string } }

export class LspClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: Message) => void }>();
  readonly notifications: Message[] = [];
  private waiters: { test: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  stderr = '';

  constructor() {
    this.child = spawn(process.execPath, [cli, 'lsp', '--stdio'], { cwd: repo });
    this.child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      const message = JSON.parse(body) as Message;
      if (message.id !== undefined && message.method === undefined) {
        this.pending.get(message.id)?.resolve(message);
        this.pending.delete(message.id);
      } else if (message.id !== undefined && message.method !== undefined) {
        // A request from the server (e.g. workspace/configuration): answer null.
        this.send({ id: message.id, result: null });
      } else {
        this.notifications.push(message);
        const waiter = this.waiters.find((w) => w.test(message));
        if (waiter) {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          waiter.resolve(message);
        }
      }
    }
  }

  private send(message: object): void {
    const body = JSON.stringify({ jsonrpc: '2.0', ...message });
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  /** A request's response message (with `result` or `error`). */
  requestRaw(method: string, params: unknown): Promise<Message> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.send({ id, method, params });
    });
  }

  async request<R>(method: string, params: unknown): Promise<R> {
    const m = await this.requestRaw(method, params);
    if (m.error) throw new Error(`${method}: ${m.error.message}`);
    return m.result as R;
  }

  notify(method: string, params: unknown): void {
    this.send({ method, params });
  }

  /** The next notification that passes `test` (not one received before the call). */
  next(test: (m: Message) => boolean): Promise<Message> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /**
   * Every publishDiagnostics of the batch that ends with `uri` at `version`
   * (the server publishes the changed document last), by URI.
   */
  async diagnosticsBatch(uri: string, version: number): Promise<Map<string, LspDiagnostic[]>> {
    const from = this.notifications.length;
    const isLast = (m: Message) => m.method === 'textDocument/publishDiagnostics' && (m.params as { uri: string; version?: number }).uri === uri
      && (m.params as { version?: number }).version === version;
    if (!this.notifications.slice(from).some(isLast)) await this.next(isLast);
    const batch = new Map<string, LspDiagnostic[]>();
    const seen = this.notifications.slice(from);
    const end = seen.findIndex(isLast);
    for (const m of seen.slice(0, end + 1)) {
      if (m.method === 'textDocument/publishDiagnostics') {
        const p = m.params as { uri: string; diagnostics: LspDiagnostic[] };
        batch.set(p.uri, p.diagnostics);
      }
    }
    return batch;
  }

  /** The next publishDiagnostics for `uri`. */
  nextDiagnostics(uri: string): Promise<{ uri: string; diagnostics: LspDiagnostic[] }> {
    return this.next((m) => m.method === 'textDocument/publishDiagnostics' && (m.params as { uri: string }).uri === uri)
      .then((m) => m.params as { uri: string; diagnostics: LspDiagnostic[] });
  }

  async initialize(rootUri: string | null): Promise<unknown> {
    const result = await this.request('initialize', { processId: process.pid, rootUri, capabilities: {} });
    this.notify('initialized', {});
    return result;
  }

  async close(): Promise<number | null> {
    await this.request('shutdown', null);
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.notify('exit', null);
    return exited;
  }
}

export interface LspDiagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity?: number;
  code?: string;
  source?: string;
  message: string;
}
