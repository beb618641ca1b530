/**
 * Chevrotain's CST → the AST of dsl/ast.ts.
 *
 * After error recovery the CST may miss any child, so every access here is
 * guarded: a missing piece becomes a placeholder (an empty name, a null
 * literal) that the parser has already reported. It decides one thing the
 * grammar leaves open: a call named count/sum/avg/min/max/distinct/top/first/
 * last with one argument that is an event or `event.field` is an aggregate;
 * `min(a, b)` and `max(a, b)` are functions.
 */
import type { CstNode, CstNodeLocation, IToken } from 'chevrotain';
import {
  AGGREGATE_FNS, type AggregateFn, type AudienceClause, type AudienceDecl, type BinaryOp, type CapClause, type ClockTime, type DecisionDecl,
  type DeliverClause, type DurationLiteral, type EventDecl, type IdentityDecl, type IdentityFieldDecl, type Expr, type Identifier, type OfferDecl, type OutputDecl, type RuleFile, type SourceDecl, type Step, type TraitDecl,
} from './ast.js';
import type { Diagnostic, Span } from './diagnostics.js';
import { editDistance } from './suggest.js';

type Children = Record<string, (CstNode | IToken)[] | undefined>;

/** One declaration's AST and the diagnostics its conversion found. */
interface Converted<T> { ast: T; diagnostics: Diagnostic[] }

const UNIT_MS: Record<string, number> = {
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  m: 60_000, minute: 60_000, minutes: 60_000,
  s: 1_000, second: 1_000, seconds: 1_000,
};

function isToken(x: CstNode | IToken | undefined): x is IToken {
  return x !== undefined && (x as IToken).image !== undefined;
}

export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /** Where conversions report: `diagnostics`, or a declaration's own list while it is converted ahead. */
  private reportTo: Diagnostic[] = this.diagnostics;
  /** Declarations of the current stretch converted as they were parsed, by their node. */
  private readonly converted = new Map<CstNode, Converted<unknown>>();

  constructor(private readonly path: string) {}

  private tokenSpan(t: IToken): Span {
    const len = Math.max(1, t.image.length);
    return {
      file: this.path, line: t.startLine ?? 1, column: t.startColumn ?? 1,
      endLine: t.endLine ?? t.startLine ?? 1, endColumn: (t.endColumn ?? (t.startColumn ?? 1) + len - 1) + 1,
      offset: t.startOffset, endOffset: (t.endOffset ?? t.startOffset + len - 1) + 1,
    };
  }

  private nodeSpan(n: CstNode): Span {
    const l = n.location as CstNodeLocation | undefined;
    if (!l || Number.isNaN(l.startOffset)) return { file: this.path, line: 1, column: 1, endLine: 1, endColumn: 2, offset: 0, endOffset: 1 };
    return {
      file: this.path, line: l.startLine ?? 1, column: l.startColumn ?? 1,
      endLine: l.endLine ?? l.startLine ?? 1, endColumn: (l.endColumn ?? l.startColumn ?? 1) + 1,
      offset: l.startOffset, endOffset: (Number.isNaN(l.endOffset) ? l.startOffset : (l.endOffset ?? l.startOffset)) + 1,
    };
  }

  private join(a: Span, b: Span): Span {
    return { file: a.file, line: a.line, column: a.column, endLine: b.endLine, endColumn: b.endColumn, offset: a.offset, endOffset: b.endOffset };
  }

  private tok(c: Children, name: string, i = 0): IToken | undefined {
    const x = c[name]?.[i];
    return isToken(x) && !x.isInsertedInRecovery ? x : undefined;
  }

  private node(c: Children, name: string, i = 0): CstNode | undefined {
    const x = c[name]?.[i];
    return x !== undefined && !isToken(x) ? x : undefined;
  }

  /** The first node under `name`, as `nodes(c, name)[0]`. */
  private firstNode(c: Children, name: string): CstNode | undefined {
    for (const x of c[name] ?? []) if (!isToken(x)) return x;
    return undefined;
  }

  private nodes(c: Children, name: string): CstNode[] {
    return (c[name] ?? []).filter((x): x is CstNode => !isToken(x));
  }

  private ident(t: IToken | undefined, fallback: Span): Identifier {
    return t ? { name: t.image, span: this.tokenSpan(t) } : { name: '', span: fallback };
  }

  private unquote(t: IToken): string {
    try {
      return JSON.parse(t.image) as string;
    } catch {
      return t.image.slice(1, -1);
    }
  }

  duration(t: IToken): DurationLiteral {
    const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(t.image);
    const ms = m ? Math.round(Number(m[1]) * (UNIT_MS[m[2]!] ?? NaN)) : NaN;
    return { kind: 'duration', ms: Number.isFinite(ms) ? ms : 0, text: t.image, span: this.tokenSpan(t) };
  }

  /**
   * Turn one declaration into AST as soon as the parser is done with it
   * (AudParser's declaration sink), so that its tree can be dropped. The
   * result waits for `appendTo`, which adds declarations in the order it
   * always has.
   */
  convertDeclaration(n: CstNode): void {
    switch (n.name) {
      case 'sourceDecl': this.converted.set(n, this.converting(() => this.source(n))); break;
      case 'outputDecl': this.converted.set(n, this.converting(() => this.output(n))); break;
      case 'eventDecl': this.converted.set(n, this.converting(() => this.event(n))); break;
      case 'traitDecl': this.converted.set(n, this.converting(() => this.trait(n))); break;
      case 'audienceDecl': this.converted.set(n, this.converting(() => this.audience(n))); break;
      case 'actionDecl': this.converted.set(n, this.converting(() => this.action(n))); break;
    }
  }

  /** Add the declarations of one parsed stretch of the file. */
  appendTo(file: RuleFile, root: CstNode | undefined): void {
    if (root) this.appendDeclarations(file, root.children as Children);
    this.converted.clear();
  }

  private appendDeclarations(file: RuleFile, c: Children): void {
    for (const n of this.nodes(c, 'sourceDecl')) {
      const src = this.take(n, () => this.source(n));
      if (file.source) {
        this.diagnostics.push({
          code: 'bad-declaration', span: src.span,
          message: `a second source declaration (the first is on line ${file.source.span.line}): a program reads one source`,
          suggestion: 'merge the clauses into one source block',
        });
      } else {
        file.source = src;
      }
    }
    for (const n of this.nodes(c, 'outputDecl')) file.outputs.push(this.take(n, () => this.output(n)));
    for (const n of this.nodes(c, 'eventDecl')) file.events.push(this.take(n, () => this.event(n)));
    for (const n of this.nodes(c, 'traitDecl')) file.traits.push(this.take(n, () => this.trait(n)));
    for (const n of this.nodes(c, 'audienceDecl')) file.audiences.push(this.take(n, () => this.audience(n)));
    for (const n of this.nodes(c, 'actionDecl')) {
      const action = this.take(n, () => this.action(n));
      if (action.kind === 'offer') file.offers.push(action.decl); else file.decisions.push(action.decl);
    }
    // Declarations keep file order within each kind; sort by position for stable output.
    const byOffset = (a: { span: Span }, b: { span: Span }) => a.span.offset - b.span.offset;
    file.events.sort(byOffset);
    file.traits.sort(byOffset);
    file.audiences.sort(byOffset);
    file.offers.sort(byOffset);
    file.decisions.sort(byOffset);
  }

  /** Run a conversion with its diagnostics set aside, to be reported when the declaration is appended. */
  private converting<T>(convert: () => T): Converted<T> {
    const diagnostics: Diagnostic[] = [];
    const outer = this.reportTo;
    this.reportTo = diagnostics;
    try {
      return { ast: convert(), diagnostics };
    } finally {
      this.reportTo = outer;
    }
  }

  /**
   * A declaration's AST, converted earlier or now: a declaration cut short
   * by a syntax error reaches the file's tree without passing the sink.
   */
  private take<T>(n: CstNode, convert: () => T): T {
    // The node's kind is the one `convert` makes, as in convertDeclaration.
    const converted = (this.converted.get(n) as Converted<T> | undefined) ?? this.converting(convert);
    this.diagnostics.push(...converted.diagnostics);
    return converted.ast;
  }

  private output(n: CstNode): OutputDecl {
    const t = this.tok(n.children as Children, 'StringLiteral');
    return { topic: t ? this.unquote(t) : '', span: this.nodeSpan(n) };
  }

  private event(n: CstNode): EventDecl {
    const cc = n.children as Children;
    const span = this.nodeSpan(n);
    return {
      name: this.ident(this.tok(cc, 'Identifier'), span),
      fields: this.nodes(cc, 'fieldDecl').map((f) => {
        const fc = f.children as Children;
        const fs = this.nodeSpan(f);
        return { name: this.ident(this.tok(fc, 'name'), fs), type: this.ident(this.tok(fc, 'type'), fs), span: fs };
      }),
      span,
    };
  }

  private trait(n: CstNode): TraitDecl {
    const cc = n.children as Children;
    const span = this.nodeSpan(n);
    return {
      kind: this.tok(cc, 'Score') ? 'score' : 'trait',
      name: this.ident(this.tok(cc, 'Identifier'), span),
      expr: this.expression(this.node(cc, 'expression'), span),
      span,
    };
  }

  private audience(n: CstNode): AudienceDecl {
    const cc = n.children as Children;
    const span = this.nodeSpan(n);
    const desc = this.tok(cc, 'StringLiteral');
    const clauseNodes = this.nodes(cc, 'audienceClause');
    const clauses = clauseNodes.map((c) => this.audienceClause(c));
    const enter = clauses.find((c) => c.key === 'enter when');
    const closing = this.tok(cc, 'RCurly');
    const decl: AudienceDecl = {
      name: this.ident(this.tok(cc, 'Identifier'), span),
      expr: clauseNodes.length === 0 ? this.expression(this.node(cc, 'expression'), span)
        : enter ? enter.value : { kind: 'null', span: closing ? this.tokenSpan(closing) : span },
      span,
    };
    if (clauseNodes.length > 0) decl.clauses = clauses;
    if (desc) decl.description = this.unquote(desc);
    return decl;
  }

  private audienceClause(n: CstNode): AudienceClause {
    const c = n.children as Children;
    const span = this.nodeSpan(n);
    const words = ((c['words'] ?? []) as IToken[]).map((t) => this.ident(t, span));
    return { words, key: words.map((w) => w.name).join(' '), value: this.expression(this.node(c, 'expression'), span), span };
  }

  /** `offer` or `decision` (parser.ts's actionDecl): the clauses each takes, the others reported. */
  private action(n: CstNode): { kind: 'offer'; decl: OfferDecl } | { kind: 'decision'; decl: DecisionDecl } {
    const cc = n.children as Children;
    const span = this.nodeSpan(n);
    const kind = this.tok(cc, 'kind')?.image === 'decision' ? 'decision' : 'offer';
    const name = this.ident(this.tok(cc, 'name'), span);
    const desc = this.tok(cc, 'StringLiteral');
    const offer: OfferDecl = { name, caps: [], span };
    const decision: DecisionDecl = { name, offers: [], caps: [], span };
    const words = kind === 'offer' ? ['eligible', 'score', 'cap'] : ['offers', 'cap', 'deliver'];
    const seen = new Map<string, Span>();
    for (const clause of this.nodes(cc, 'actionClause')) {
      const c = clause.children as Children;
      const wordTok = this.tok(c, 'word');
      if (!wordTok) continue;
      const word = wordTok.image;
      const wordSpan = this.tokenSpan(wordTok);
      const clauseSpan = this.nodeSpan(clause);
      if (!words.includes(word)) {
        const d: Diagnostic = {
          code: 'bad-declaration', span: wordSpan,
          message: `unknown ${kind} clause "${word}": ${kind === 'offer' ? 'an offer takes eligible, score and cap' : 'a decision takes offers, cap and deliver'}`,
        };
        const near = words.find((k) => editDistance(k, word) <= 2);
        if (near) d.suggestion = `did you mean "${near}"?`;
        this.reportTo.push(d);
        continue;
      }
      const first = seen.get(word);
      if (first && word !== 'cap') {
        this.reportTo.push({
          code: 'bad-declaration', span: wordSpan,
          message: `a second "${word}" clause in ${kind} ${name.name} (the first is on line ${first.line})`,
          suggestion: word === 'eligible' ? 'join the conditions with "and" in one eligible clause' : `keep one "${word}" clause`,
        });
        continue;
      }
      seen.set(word, wordSpan);
      switch (word) {
        case 'eligible': offer.eligible = this.expression(this.node(c, 'expression'), clauseSpan); break;
        case 'score': offer.score = this.expression(this.node(c, 'expression'), clauseSpan); break;
        case 'cap': {
          const cap = this.cap(c, clauseSpan);
          if (cap) (kind === 'offer' ? offer.caps : decision.caps).push(cap);
          break;
        }
        case 'offers':
          decision.offers = ((c['offers'] ?? []).filter(isToken)).map((t) => this.ident(t, clauseSpan));
          if (decision.offers.length === 0) this.reportTo.push({ code: 'syntax', span: wordSpan, message: 'offers names no offer', suggestion: 'list the offers: offers winback, cart_reminder' });
          break;
        case 'deliver': {
          const deliver = this.deliver(c, clauseSpan);
          if (deliver) decision.deliver = deliver;
          break;
        }
      }
    }
    if (desc) offer.description = decision.description = this.unquote(desc);
    return kind === 'offer' ? { kind, decl: offer } : { kind, decl: decision };
  }

  /** `cap N per W`; undefined (reported) when a piece is missing. */
  private cap(c: Children, span: Span): CapClause | undefined {
    const count = this.tok(c, 'count');
    const per = this.tok(c, 'per');
    const dur = this.tok(c, 'DurationLiteral');
    if (!count || !per || !dur) {
      this.reportTo.push({ code: 'syntax', span, message: 'a cap is written "cap N per DURATION"', suggestion: 'for example: cap 1 per 7 days' });
      return undefined;
    }
    if (per.image !== 'per') {
      this.reportTo.push({ code: 'syntax', span: this.tokenSpan(per), message: `expected "per" after the cap's count, found "${per.image}"`, suggestion: `cap ${count.image} per ${dur.image}` });
      return undefined;
    }
    return { count: Number(count.image), countSpan: this.tokenSpan(count), per: this.duration(dur), span };
  }

  /** `deliver between HH:MM and HH:MM in "Zone"` or `in trait [default "Zone"]`; undefined (reported) when a piece is missing. */
  private deliver(c: Children, span: Span): DeliverClause | undefined {
    const between = this.tok(c, 'between');
    const from = this.tok(c, 'from');
    const to = this.tok(c, 'to');
    if (!between || !from || !to) {
      this.reportTo.push({ code: 'syntax', span, message: 'a send window is written "deliver between HH:MM and HH:MM in ZONE"', suggestion: 'for example: deliver between 09:00 and 20:00 in "Europe/Oslo"' });
      return undefined;
    }
    if (between.image !== 'between') {
      this.reportTo.push({ code: 'syntax', span: this.tokenSpan(between), message: `expected "between" after "deliver", found "${between.image}"`, suggestion: `deliver between ${from.image} and ${to.image}` });
      return undefined;
    }
    const deliver: DeliverClause = { start: this.clockTime(from), end: this.clockTime(to), span };
    const zone = this.tok(c, 'zone');
    const trait = this.tok(c, 'zoneTrait');
    if (zone) deliver.zone = { name: this.unquote(zone), span: this.tokenSpan(zone) };
    if (trait) deliver.zoneTrait = this.ident(trait, span);
    const dflt = this.tok(c, 'default');
    const dfltZone = this.tok(c, 'defaultZone');
    if (dflt && dflt.image !== 'default') {
      this.reportTo.push({ code: 'syntax', span: this.tokenSpan(dflt), message: `expected "default" after the zone's trait, found "${dflt.image}"`, suggestion: `in ${trait?.image ?? 'timezone'} default "Europe/Oslo"` });
    } else if (dfltZone) {
      deliver.defaultZone = { name: this.unquote(dfltZone), span: this.tokenSpan(dfltZone) };
    }
    if (!zone && !trait) return undefined;
    return deliver;
  }

  /** `09:00`; an hour past 23 or minutes past 59 are reported, and read as 0. */
  private clockTime(t: IToken): ClockTime {
    const [h, m] = t.image.split(':').map(Number) as [number, number];
    const span = this.tokenSpan(t);
    if (h > 23 || m > 59) {
      this.reportTo.push({ code: 'bad-time', span, message: `"${t.image}" is not a time of day`, suggestion: 'write hours 00 to 23 and minutes 00 to 59, such as 09:00' });
      return { minute: 0, text: t.image, span };
    }
    return { minute: h * 60 + m, text: t.image, span };
  }

  private source(n: CstNode): SourceDecl {
    const c = n.children as Children;
    const span = this.nodeSpan(n);
    const topicTok = this.tok(c, 'StringLiteral');
    const src: SourceDecl = {
      topic: topicTok ? this.unquote(topicTok) : '',
      topicSpan: topicTok ? this.tokenSpan(topicTok) : span,
      span,
    };
    for (const clause of this.nodes(c, 'sourceClause')) {
      const cc = clause.children as Children;
      const word = this.tok(cc, 'clause');
      if (word?.image === 'identity') {
        src.identity = this.identity(clause);
        continue;
      }
      const value = this.tok(cc, 'value');
      if (!word || !value) continue;
      const v = this.ident(value, span);
      switch (word.image) {
        case 'key': src.key = v; break;
        case 'type': src.type = v; break;
        case 'time': src.time = v; break;
        case 'format': src.format = v; break;
        default: {
          const d: Diagnostic = {
            code: 'bad-declaration', span: this.tokenSpan(word),
            message: `unknown source clause "${word.image}": a source block takes key or identity, type, time and format`,
          };
          const near = ['key', 'identity', 'type', 'time', 'format'].find((k) => editDistance(k, word.image) <= 2);
          if (near) d.suggestion = `did you mean "${near}"?`;
          this.reportTo.push(d);
        }
      }
    }
    return src;
  }

  /** `identity F1, F2 limit N, ...  block "v", ...` */
  private identity(clause: CstNode): IdentityDecl {
    const cc = clause.children as Children;
    const fields: IdentityFieldDecl[] = this.nodes(cc, 'identityField').map((f) => {
      const fc = f.children as Children;
      const field: IdentityFieldDecl = { name: this.ident(this.tok(fc, 'field')!, this.nodeSpan(f)) };
      const limit = this.tok(fc, 'NumberLiteral');
      if (limit) field.limit = { value: Number(limit.image), span: this.tokenSpan(limit) };
      return field;
    });
    const block = (cc['blocked'] as IToken[] | undefined ?? []).map((t) => ({ value: this.unquote(t), span: this.tokenSpan(t) }));
    return { fields, block, span: this.nodeSpan(clause) };
  }

  expression(n: CstNode | undefined, fallback: Span): Expr {
    if (!n) return { kind: 'null', span: fallback };
    const c = n.children as Children;
    switch (n.name) {
      case 'expression': return this.chain(c, 'operands', 'operators', fallback);
      case 'andExpr': return this.chain(c, 'operands', 'operators', fallback);
      case 'notExpr': {
        const inner = this.node(c, 'notExpr');
        if (this.tok(c, 'Not') || inner) {
          const operand = this.expression(inner, fallback);
          return { kind: 'unary', op: 'not', operand, span: this.nodeSpan(n) };
        }
        return this.expression(this.node(c, 'comparison'), fallback);
      }
      case 'comparison': {
        const left = this.expression(this.node(c, 'left'), fallback);
        if (c.inList) {
          const values = this.nodes(c, 'values').map((v) => this.expression(v, fallback));
          return { kind: 'in-list', operand: left, values, span: this.nodeSpan(n) };
        }
        const op = this.tok(c, 'operator');
        if (!op) return left;
        const right = this.expression(this.node(c, 'right'), this.tokenSpan(op));
        return { kind: 'binary', op: op.image as BinaryOp, left, right, span: this.join(left.span, right.span) };
      }
      case 'additive':
      case 'multiplicative': return this.chain(c, 'operands', 'operators', fallback);
      case 'unary': {
        const inner = this.node(c, 'unary');
        if (inner) return { kind: 'unary', op: '-', operand: this.expression(inner, fallback), span: this.nodeSpan(n) };
        return this.expression(this.node(c, 'postfix'), fallback);
      }
      case 'postfix': {
        const operand = this.expression(this.node(c, 'primary'), fallback);
        const over = this.tok(c, 'Over');
        const dur = this.tok(c, 'DurationLiteral');
        if (!over) return operand;
        const window = dur ? this.duration(dur) : { kind: 'duration' as const, ms: 0, text: '', span: this.tokenSpan(over) };
        return { kind: 'over', operand, window, span: this.join(operand.span, window.span) };
      }
      case 'primary': return this.primary(n, c, fallback);
      default: return this.expression(Object.values(c).flat().find((x): x is CstNode => !isToken(x)), fallback);
    }
  }

  /** Left-associative chains: `a or b or c`, `a + b - c`. */
  private chain(c: Children, operandsKey: string, operatorsKey: string, fallback: Span): Expr {
    // Most levels of an expression hold one operand and no operator: pass it through without building lists.
    if (c[operatorsKey] === undefined) return this.expression(this.firstNode(c, operandsKey), fallback);
    const operands = this.nodes(c, operandsKey);
    const operators = (c[operatorsKey] ?? []).filter(isToken);
    let left = this.expression(operands[0], fallback);
    for (let i = 0; i < operators.length; i++) {
      const op = operators[i]!;
      const right = this.expression(operands[i + 1], this.tokenSpan(op));
      left = { kind: 'binary', op: op.image as BinaryOp, left, right, span: this.join(left.span, right.span) };
    }
    return left;
  }

  private primary(n: CstNode, c: Children, fallback: Span): Expr {
    const span = this.nodeSpan(n);
    let t: IToken | undefined;
    if ((t = this.tok(c, 'NumberLiteral'))) return { kind: 'number', value: Number(t.image), span };
    if ((t = this.tok(c, 'StringLiteral'))) return { kind: 'string', value: this.unquote(t), span };
    if (this.tok(c, 'True')) return { kind: 'bool', value: true, span };
    if (this.tok(c, 'False')) return { kind: 'bool', value: false, span };
    if (this.tok(c, 'Null')) return { kind: 'null', span };
    if ((t = this.tok(c, 'DurationLiteral'))) return this.duration(t);
    if ((t = this.tok(c, 'TimeLiteral'))) {
      const text = t.image.slice(1);
      const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
      if (Number.isNaN(ms)) {
        this.reportTo.push({ code: 'syntax', span, message: `"${t.image}" is not a time`, suggestion: 'write an ISO-8601 instant such as @2026-01-31T00:00:00Z' });
      }
      return { kind: 'time', ms: Number.isNaN(ms) ? 0 : ms, text: t.image, span };
    }
    let sub: CstNode | undefined;
    if ((sub = this.node(c, 'parenthesized'))) return this.expression(this.node(sub.children as Children, 'expression'), span);
    if ((sub = this.node(c, 'inAudience'))) {
      return { kind: 'in-audience', audience: this.ident(this.tok(sub.children as Children, 'Identifier'), span), span };
    }
    if ((sub = this.node(c, 'sequenceExpr'))) {
      const sc = sub.children as Children;
      const steps = this.nodes(sc, 'steps').map((s) => this.step(s));
      const dur = this.tok(sc, 'DurationLiteral');
      return { kind: 'sequence', steps, within: dur ? this.duration(dur) : { kind: 'duration', ms: 0, text: '', span }, span };
    }
    if ((sub = this.node(c, 'thenExpr'))) {
      const tc = sub.children as Children;
      const steps = this.nodes(tc, 'steps').map((s) => this.step(s));
      const dur = this.tok(tc, 'DurationLiteral');
      const missing: Step = { event: { name: '', span }, span };
      return {
        kind: 'then', first: steps[0] ?? missing, negated: this.tok(tc, 'Not') !== undefined, second: steps[1] ?? missing,
        within: dur ? this.duration(dur) : { kind: 'duration', ms: 0, text: '', span }, span,
      };
    }
    if ((sub = this.node(c, 'callExpr'))) return this.call(sub, span);
    if ((sub = this.node(c, 'fieldRef'))) {
      const fc = sub.children as Children;
      return { kind: 'field', event: this.ident(this.tok(fc, 'event'), span), field: this.ident(this.tok(fc, 'field'), span), span };
    }
    if ((t = this.tok(c, 'Identifier'))) return { kind: 'name', name: this.ident(t, span), span };
    return { kind: 'null', span: fallback };
  }

  private step(n: CstNode): Step {
    const c = n.children as Children;
    const span = this.nodeSpan(n);
    const event = this.ident(this.tok(c, 'Identifier'), span);
    const where = this.node(c, 'expression');
    return where ? { event, where: this.expression(where, span), span } : { event, span };
  }

  private call(n: CstNode, span: Span): Expr {
    const c = n.children as Children;
    const fn = this.ident(this.tok(c, 'Identifier'), span);
    const args = this.node(c, 'args');
    const ac = (args?.children ?? {}) as Children;
    const aggArg = this.node(ac, 'aggregateArg');
    const isAggregateName = (AGGREGATE_FNS as readonly string[]).includes(fn.name);
    if (aggArg) {
      const gc = aggArg.children as Children;
      const event = this.ident(this.tok(gc, 'event'), span);
      const fieldTok = this.tok(gc, 'field');
      const where = this.expression(this.node(gc, 'expression'), span);
      if (!isAggregateName) {
        this.reportTo.push({ code: 'syntax', span: fn.span, message: `"where" filters the events of an aggregate, and ${fn.name}() is not one`, suggestion: 'aggregates are count, sum, avg, min, max, distinct, top, first and last' });
        return { kind: 'call', fn, args: [], span };
      }
      const agg: Expr = { kind: 'aggregate', fn: fn.name as AggregateFn, fnSpan: fn.span, event, where, span };
      if (fieldTok) agg.field = this.ident(fieldTok, span);
      return agg;
    }
    const values = this.nodes(ac, 'values').map((v) => this.expression(v, span));
    if (isAggregateName && values.length === 1) {
      const only = values[0]!;
      if (only.kind === 'name') return { kind: 'aggregate', fn: fn.name as AggregateFn, fnSpan: fn.span, event: only.name, span };
      if (only.kind === 'field') return { kind: 'aggregate', fn: fn.name as AggregateFn, fnSpan: fn.span, event: only.event, field: only.field, span };
    }
    return { kind: 'call', fn, args: values, span };
  }
}
