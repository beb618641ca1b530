/**
 * The .aud grammar as a Chevrotain CstParser. It builds a concrete syntax
 * tree; dsl/cst-to-ast.ts turns that into the AST. Error recovery is on, so a
 * file with three broken audiences yields three errors and a partial tree.
 *
 *   file        := (source | output | event | trait | audience | offer | decision)*
 *   source      := "source" STRING "{" (NAME NAME | "identity" idField ("," idField)* ("block" STRING ("," STRING)*)?)* "}"
 *   idField     := NAME ("limit" NUMBER)?
 *   output      := "output" STRING
 *   event       := "event" NAME "{" (NAME ":" NAME ","?)* "}"
 *   trait       := ("trait" | "score") NAME "=" expr
 *   audience    := "audience" NAME STRING? "{" (clause+ | expr) "}"
 *   clause      := NAME NAME "least"? expr       (enter when X, stay at least 1 day, ...)
 *   offer       := "offer" NAME STRING? "{" actionClause* "}"       (the words are names, not keywords)
 *   decision    := "decision" NAME STRING? "{" actionClause* "}"
 *   actionClause:= "score" expr | "cap" NUMBER "per" DURATION | "offers" NAME ("," NAME)*
 *                | "deliver" "between" CLOCK "and" CLOCK "in" (STRING | NAME ("default" STRING)?)
 *                | NAME expr?                      (eligible X; any other word, for the checker)
 *   expr        := and ("or" and)*
 *   and         := not ("and" not)*
 *   not         := "not" not | comparison
 *   comparison  := additive ((== != < <= > >= contains starts_with ends_with) additive
 *                            | "in" "(" expr ("," expr)* ")")?
 *   additive    := multiplicative (("+" | "-") multiplicative)*
 *   multiplicative := unary (("*" | "/") unary)*
 *   unary       := "-" unary | postfix
 *   postfix     := primary ("over" DURATION)?
 *   primary     := literal | "(" expr ")" | "in" NAME
 *                | "sequence" "(" step ("," step)* ")" "within" DURATION
 *                | step "then" "not"? step "within" DURATION
 *                | NAME "(" args? ")" | NAME "." NAME | NAME
 *   step        := NAME ("where" expr)?
 *   args        := aggregateArg | expr ("," expr)*
 *   aggregateArg:= NAME ("." NAME)? "where" expr
 */
import type { CstNode, IToken, TokenType } from 'chevrotain';
import { CstParser, EOF } from './chevrotain.js';
import * as T from './lexer.js';

/** What to do with each top-level declaration (sourceDecl, outputDecl, ...) once it is parsed. */
export type DeclarationSink = (declaration: CstNode) => void;

const COMPARE_TOKENS: TokenType[] = [T.EqEq, T.NotEq, T.LtEq, T.GtEq, T.Lt, T.Gt, T.Contains, T.StartsWith, T.EndsWith];

export class AudParser extends CstParser {
  /**
   * How many `where` filters enclose the current position. Inside a filter a
   * name followed by `then` is not a sequence (a filter looks at one event),
   * so `A where not web then B within 1h` is the step `A where not web`.
   */
  private filterDepth = 0;

  /** Receives each top-level declaration as soon as it is parsed; see `declarationParsed`. */
  private onDeclaration: DeclarationSink | undefined;

  /**
   * Set the input and forget the state of the previous parse. `onDeclaration`
   * receives each declaration's tree as soon as the parser is done with it.
   */
  startParse(tokens: IToken[], onDeclaration?: DeclarationSink): void {
    this.filterDepth = 0;
    this.onDeclaration = onDeclaration;
    this.input = tokens;
  }

  constructor() {
    super(T.allTokens, { recoveryEnabled: true, nodeLocationTracking: 'full', maxLookahead: 4 });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    // A name starts a declaration only if it is `offer` or `decision`: any other stops the file here, where the error says which words do.
    this.MANY({ GATE: () => this.LA(1).tokenType !== T.Identifier || isWord(this.LA(1), 'offer') || isWord(this.LA(1), 'decision'), DEF: () => {
      const declaration = this.OR([
        { ALT: () => this.SUBRULE(this.sourceDecl) },
        { ALT: () => this.SUBRULE(this.outputDecl) },
        { ALT: () => this.SUBRULE(this.eventDecl) },
        { ALT: () => this.SUBRULE(this.traitDecl) },
        { ALT: () => this.SUBRULE(this.audienceDecl) },
        { GATE: () => isWord(this.LA(1), 'offer') || isWord(this.LA(1), 'decision'), ALT: () => this.SUBRULE(this.actionDecl) },
      ]);
      this.ACTION(() => this.declarationParsed(declaration));
    } });
  });

  /**
   * Hand a finished declaration to the sink, then empty its children. The
   * file's tree keeps the node (with its location, which says how far the
   * parse got), but not the subtree: the sink has turned it into AST. A tree
   * of the whole file, alive until the parse ends, is copied through the
   * garbage collector's young generation and marked in the old one; the
   * subtree of one declaration dies young, which costs nearly nothing.
   */
  private declarationParsed(declaration: CstNode): void {
    if (!this.onDeclaration) return;
    this.onDeclaration(declaration);
    const children = declaration.children;
    for (const key of Object.keys(children)) delete children[key];
  }

  sourceDecl = this.RULE('sourceDecl', () => {
    this.CONSUME(T.Source);
    this.CONSUME(T.StringLiteral);
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.sourceClause));
    this.CONSUME(T.RCurly);
  });

  /**
   * `key F`, `type F`, `time F`, `format json`, and
   * `identity F1, F2 limit 5, F3  block "", "0"`. The words are names, not
   * keywords (fields may be called `identity` or `limit`); cst-to-ast.ts
   * says which clause a word is.
   */
  sourceClause = this.RULE('sourceClause', () => {
    this.OR({ IGNORE_AMBIGUITIES: true, DEF: [
      {
        GATE: () => isWord(this.LA(1), 'identity'),
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'clause' });
          this.SUBRULE(this.identityField);
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.identityField);
          });
          this.OPTION({
            GATE: () => isWord(this.LA(1), 'block'),
            DEF: () => {
              this.CONSUME2(T.Identifier, { LABEL: 'block' });
              this.CONSUME(T.StringLiteral, { LABEL: 'blocked' });
              this.MANY2(() => {
                this.CONSUME2(T.Comma);
                this.CONSUME2(T.StringLiteral, { LABEL: 'blocked' });
              });
            },
          });
        },
      },
      {
        ALT: () => {
          this.CONSUME3(T.Identifier, { LABEL: 'clause' });
          this.CONSUME4(T.Identifier, { LABEL: 'value' });
        },
      },
    ] });
  });

  /** One identifier field of `identity`, with its `limit N`. */
  identityField = this.RULE('identityField', () => {
    this.CONSUME(T.Identifier, { LABEL: 'field' });
    this.OPTION({
      GATE: () => isWord(this.LA(1), 'limit'),
      DEF: () => {
        this.CONSUME2(T.Identifier, { LABEL: 'limit' });
        this.CONSUME(T.NumberLiteral);
      },
    });
  });

  outputDecl = this.RULE('outputDecl', () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.StringLiteral);
  });

  eventDecl = this.RULE('eventDecl', () => {
    this.CONSUME(T.Event);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.SUBRULE(this.fieldDecl);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RCurly);
  });

  fieldDecl = this.RULE('fieldDecl', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Colon);
    this.CONSUME2(T.Identifier, { LABEL: 'type' });
  });

  traitDecl = this.RULE('traitDecl', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Trait) },
      { ALT: () => this.CONSUME(T.Score) },
    ]);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  audienceDecl = this.RULE('audienceDecl', () => {
    this.CONSUME(T.Audience);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.CONSUME(T.StringLiteral));
    this.CONSUME(T.LCurly);
    // No expression starts with two names, so two names open the clause form.
    this.OR([
      { GATE: () => this.LA(1).tokenType === T.Identifier && this.LA(2).tokenType === T.Identifier, ALT: () => this.AT_LEAST_ONE(() => this.SUBRULE(this.audienceClause)) },
      { ALT: () => this.SUBRULE(this.expression) },
    ]);
    this.CONSUME(T.RCurly);
  });

  /**
   * `enter when EXPR`, `enter after 1 hour`, `stay at least 1 day`: the
   * words are names, not keywords, so that `enter` or `stay` stay usable as
   * trait names; a duration is an expression here, and the checker says
   * which clause takes which.
   */
  audienceClause = this.RULE('audienceClause', () => {
    this.CONSUME(T.Identifier, { LABEL: 'words' });
    this.CONSUME2(T.Identifier, { LABEL: 'words' });
    this.OPTION({
      GATE: () => this.LA(1).tokenType === T.Identifier && this.LA(1).image === 'least',
      DEF: () => this.CONSUME3(T.Identifier, { LABEL: 'words' }),
    });
    this.SUBRULE(this.expression);
  });

  /**
   * `offer` and `decision` (activation.md, section 2). Their words are names,
   * not keywords, so that an event may keep a field called `offer`; the
   * parser takes any clause word, and cst-to-ast.ts says which a declaration
   * has.
   */
  actionDecl = this.RULE('actionDecl', () => {
    this.CONSUME(T.Identifier, { LABEL: 'kind' });
    this.CONSUME2(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => this.CONSUME(T.StringLiteral));
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.actionClause));
    this.CONSUME(T.RCurly);
  });

  actionClause = this.RULE('actionClause', () => {
    this.OR({ IGNORE_AMBIGUITIES: true, DEF: [
      { ALT: () => { this.CONSUME(T.Score, { LABEL: 'word' }); this.SUBRULE(this.expression); } },
      {
        GATE: () => isWord(this.LA(1), 'cap'),
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'word' });
          this.CONSUME(T.NumberLiteral, { LABEL: 'count' });
          this.CONSUME2(T.Identifier, { LABEL: 'per' });
          this.CONSUME(T.DurationLiteral);
        },
      },
      {
        GATE: () => isWord(this.LA(1), 'offers'),
        ALT: () => {
          this.CONSUME3(T.Identifier, { LABEL: 'word' });
          this.CONSUME4(T.Identifier, { LABEL: 'offers' });
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.CONSUME5(T.Identifier, { LABEL: 'offers' });
          });
        },
      },
      {
        GATE: () => isWord(this.LA(1), 'deliver'),
        ALT: () => {
          this.CONSUME6(T.Identifier, { LABEL: 'word' });
          this.CONSUME7(T.Identifier, { LABEL: 'between' });
          this.CONSUME(T.ClockTime, { LABEL: 'from' });
          this.CONSUME(T.And);
          this.CONSUME2(T.ClockTime, { LABEL: 'to' });
          this.CONSUME(T.In);
          this.OR2([
            { ALT: () => this.CONSUME(T.StringLiteral, { LABEL: 'zone' }) },
            {
              ALT: () => {
                this.CONSUME8(T.Identifier, { LABEL: 'zoneTrait' });
                this.OPTION(() => {
                  this.CONSUME9(T.Identifier, { LABEL: 'default' });
                  this.CONSUME2(T.StringLiteral, { LABEL: 'defaultZone' });
                });
              },
            },
          ]);
        },
      },
      {
        ALT: () => {
          this.consume(10, T.Identifier, { LABEL: 'word' });
          this.OPTION2({ GATE: () => this.LA(1).tokenType !== T.RCurly, DEF: () => this.SUBRULE2(this.expression) });
        },
      },
    ] });
  });

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.andExpr, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.Or, { LABEL: 'operators' });
      this.SUBRULE2(this.andExpr, { LABEL: 'operands' });
    });
  });

  andExpr = this.RULE('andExpr', () => {
    this.SUBRULE(this.notExpr, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.And, { LABEL: 'operators' });
      this.SUBRULE2(this.notExpr, { LABEL: 'operands' });
    });
  });

  notExpr = this.RULE('notExpr', () => {
    this.OR([
      { ALT: () => { this.CONSUME(T.Not); this.SUBRULE(this.notExpr); } },
      { ALT: () => this.SUBRULE(this.comparison) },
    ]);
  });

  comparison = this.RULE('comparison', () => {
    this.SUBRULE(this.additive, { LABEL: 'left' });
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.OR2(COMPARE_TOKENS.map((tok) => ({ ALT: () => this.CONSUME(tok, { LABEL: 'operator' }) })));
            this.SUBRULE2(this.additive, { LABEL: 'right' });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.In, { LABEL: 'inList' });
            this.CONSUME(T.LParen);
            this.SUBRULE(this.expression, { LABEL: 'values' });
            this.MANY(() => {
              this.CONSUME(T.Comma);
              this.SUBRULE2(this.expression, { LABEL: 'values' });
            });
            this.CONSUME(T.RParen);
          },
        },
      ]);
    });
  });

  additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Plus, { LABEL: 'operators' }) },
        { ALT: () => this.CONSUME(T.Minus, { LABEL: 'operators' }) },
      ]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'operators' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'operators' }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      { ALT: () => { this.CONSUME(T.Minus); this.SUBRULE(this.unary); } },
      { ALT: () => this.SUBRULE(this.postfix) },
    ]);
  });

  postfix = this.RULE('postfix', () => {
    this.SUBRULE(this.primary);
    this.OPTION(() => {
      this.CONSUME(T.Over);
      this.CONSUME(T.DurationLiteral);
    });
  });

  primary = this.RULE('primary', () => {
    this.OR({ IGNORE_AMBIGUITIES: true, DEF: [
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.Null) },
      { ALT: () => this.CONSUME(T.DurationLiteral) },
      { ALT: () => this.CONSUME(T.TimeLiteral) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
      { ALT: () => this.SUBRULE(this.inAudience) },
      { ALT: () => this.SUBRULE(this.sequenceExpr) },
      // `A then ...` or `A where P then ...`: a `where` after a bare name can
      // only start a step here (aggregate arguments take their `where` in `args`).
      {
        GATE: () => this.filterDepth === 0 && (this.LA(2).tokenType === T.Then || this.LA(2).tokenType === T.Where),
        ALT: () => this.SUBRULE(this.thenExpr),
      },
      { ALT: () => this.SUBRULE(this.callExpr) },
      { ALT: () => this.SUBRULE(this.fieldRef) },
      { ALT: () => this.CONSUME(T.Identifier) },
    ] });
  });

  parenthesized = this.RULE('parenthesized', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  inAudience = this.RULE('inAudience', () => {
    this.CONSUME(T.In);
    this.CONSUME(T.Identifier);
  });

  sequenceExpr = this.RULE('sequenceExpr', () => {
    this.CONSUME(T.Sequence);
    this.CONSUME(T.LParen);
    this.SUBRULE(this.step, { LABEL: 'steps' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.step, { LABEL: 'steps' });
    });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Within);
    this.CONSUME(T.DurationLiteral);
  });

  thenExpr = this.RULE('thenExpr', () => {
    this.SUBRULE(this.step, { LABEL: 'steps' });
    this.CONSUME(T.Then);
    this.OPTION(() => this.CONSUME(T.Not));
    this.SUBRULE2(this.step, { LABEL: 'steps' });
    this.CONSUME(T.Within);
    this.CONSUME(T.DurationLiteral);
  });

  step = this.RULE('step', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Where);
      this.ACTION(() => this.filterDepth++);
      this.SUBRULE(this.expression);
      this.ACTION(() => this.filterDepth--);
    });
  });

  callExpr = this.RULE('callExpr', () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => this.SUBRULE(this.args));
    this.CONSUME(T.RParen);
  });

  args = this.RULE('args', () => {
    this.OR({ IGNORE_AMBIGUITIES: true, DEF: [
      {
        // `purchase where ...` or `purchase.amount where ...`: an aggregate's argument.
        GATE: () => this.LA(1).tokenType === T.Identifier &&
          (this.LA(2).tokenType === T.Where || (this.LA(2).tokenType === T.Dot && this.LA(4).tokenType === T.Where)),
        ALT: () => this.SUBRULE(this.aggregateArg),
      },
      {
        ALT: () => {
          this.SUBRULE(this.expression, { LABEL: 'values' });
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.expression, { LABEL: 'values' });
          });
        },
      },
    ] });
  });

  aggregateArg = this.RULE('aggregateArg', () => {
    this.CONSUME(T.Identifier, { LABEL: 'event' });
    this.OPTION(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier, { LABEL: 'field' });
    });
    this.CONSUME(T.Where);
    this.ACTION(() => this.filterDepth++);
    this.SUBRULE(this.expression);
    this.ACTION(() => this.filterDepth--);
  });

  fieldRef = this.RULE('fieldRef', () => {
    this.CONSUME(T.Identifier, { LABEL: 'event' });
    this.CONSUME(T.Dot);
    this.CONSUME2(T.Identifier, { LABEL: 'field' });
  });
}

/** Whether a token is the name `word` (a clause word that is not a keyword). */
function isWord(t: IToken, word: string): boolean {
  return t.tokenType === T.Identifier && t.image === word;
}

/** One parser instance, reused: building it is the expensive part. */
export const audParser = new AudParser();

export function isEof(token: IToken): boolean {
  return token.tokenType === EOF;
}
