/**
 * The .xbar concrete-syntax parser (chevrotain CstParser, error recovery on, full locations).
 *
 * Ambiguities the grammar resolves with gates, and why:
 * - Units follow numbers without an operator (`100 kOhm`). An identifier is a unit only when it is
 *   on the same line as the number and is not itself the start of a field (`name =`), a call or
 *   a path — so newline-separated members never swallow each other.
 * - Members need no separator (one per line, as in the sketch); `,` and `;` are allowed.
 * - `map a -> x, b -> y`: after a comma the map continues only if a pattern followed by `->` comes.
 * - Glob patterns (`conv*`) are tokens written with no space between them.
 */
import { CstParser, EOF, type ILexingResult, type IToken, type TokenType, type CstNode } from 'chevrotain';
import { MAX_SYNTAX_ERRORS, SyntaxBudgetSpent, budgetedErrorProvider, lexSafeCut, setSyntaxBudget, tokensBefore } from './error-budget.js';
import * as T from './tokens.js';

/** Keywords that may also be used as field or path names (`device = rram`, `input = 1 x 28 x 28`). */
const nameKeywords: TokenType[] = [T.Device, T.Crossbar, T.Network, T.Experiment, T.Input];

export class XbarParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 3, nodeLocationTracking: 'full', errorMessageProvider: budgetedErrorProvider });
    this.performSelfAnalysis();
  }

  public file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.importDecl) }, { ALT: () => this.SUBRULE(this.declaration) }, { ALT: () => this.SUBRULE(this.networkDecl) }]);
      this.OPTION(() => this.CONSUME(T.Semicolon));
    });
  });

  public importDecl = this.RULE('importDecl', () => {
    this.CONSUME(T.Import);
    this.OR([
      { ALT: () => this.CONSUME(T.Star) },
      {
        ALT: () => {
          this.CONSUME(T.LBrace);
          this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.importSpec) });
          this.CONSUME(T.RBrace);
        },
      },
    ]);
    this.CONSUME(T.From);
    this.CONSUME(T.StringLiteral);
  });

  public importSpec = this.RULE('importSpec', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME2(T.Identifier, { LABEL: 'alias' });
    });
  });

  /** device / crossbar / experiment NAME (= PRESET)? { members } */
  public declaration = this.RULE('declaration', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Device, { LABEL: 'kind' }) },
      { ALT: () => this.CONSUME(T.Crossbar, { LABEL: 'kind' }) },
      { ALT: () => this.CONSUME(T.Experiment, { LABEL: 'kind' }) },
    ]);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.qualifiedName, { LABEL: 'preset' });
    });
    this.OPTION2(() => this.SUBRULE(this.body));
  });

  public networkDecl = this.RULE('networkDecl', () => {
    this.CONSUME(T.Network);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.param) });
      this.CONSUME(T.RParen);
    });
    this.SUBRULE(this.networkBody);
  });

  public param = this.RULE('param', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression, { LABEL: 'default' });
    });
  });

  public networkBody = this.RULE('networkBody', () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.networkMember);
      this.OPTION(() => this.OR([{ ALT: () => this.CONSUME(T.Comma) }, { ALT: () => this.CONSUME(T.Semicolon) }]));
    });
    this.CONSUME(T.RBrace);
  });

  public networkMember = this.RULE('networkMember', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Block);
          this.CONSUME(T.Identifier, { LABEL: 'name' });
          this.SUBRULE(this.networkBody);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Shortcut);
          this.SUBRULE2(this.networkBody);
        },
      },
      {
        GATE: () => this.LA(2).tokenType === T.Equals,
        ALT: () => {
          this.SUBRULE(this.fieldName, { LABEL: 'layerName' });
          this.CONSUME(T.Equals);
          this.SUBRULE(this.expression);
        },
      },
      { ALT: () => this.SUBRULE2(this.expression) },
    ]);
  });

  /** `{ member* }`: the body of declarations, nested blocks and object literals. */
  public body = this.RULE('body', () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.member);
      this.OPTION(() => this.OR([{ ALT: () => this.CONSUME(T.Comma) }, { ALT: () => this.CONSUME(T.Semicolon) }]));
    });
    this.CONSUME(T.RBrace);
  });

  public member = this.RULE('member', () => {
    this.OR([{ ALT: () => this.SUBRULE(this.mapStatement) }, { ALT: () => this.SUBRULE(this.sweepStatement) }, { ALT: () => this.SUBRULE(this.field) }]);
  });

  public field = this.RULE('field', () => {
    this.SUBRULE(this.fieldName, { LABEL: 'name' });
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Equals);
          this.SUBRULE(this.expression, { LABEL: 'value' });
        },
      },
      { ALT: () => this.SUBRULE(this.body, { LABEL: 'block' }) },
    ]);
  });

  public fieldName = this.RULE('fieldName', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, ...nameKeywords.map((tok) => ({ ALT: () => this.CONSUME(tok) }))]);
  });

  public mapStatement = this.RULE('mapStatement', () => {
    this.CONSUME(T.Map);
    this.SUBRULE(this.mapEntry);
    this.MANY({
      GATE: () => this.LA(1).tokenType === T.Comma && this.isMapEntryAhead(2),
      DEF: () => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.mapEntry);
      },
    });
  });

  public mapEntry = this.RULE('mapEntry', () => {
    this.SUBRULE(this.pattern);
    this.CONSUME(T.Arrow);
    this.CONSUME(T.Identifier, { LABEL: 'target' });
  });

  /** `*`, `conv1`, `conv*`, `stage1.*`, `"fc?"` */
  public pattern = this.RULE('pattern', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.StringLiteral) },
      {
        ALT: () => {
          this.SUBRULE(this.patternSegment);
          this.MANY(() => {
            this.CONSUME(T.Dot);
            this.SUBRULE2(this.patternSegment);
          });
        },
      },
    ]);
  });

  public patternSegment = this.RULE('patternSegment', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.Star) }]);
    // Glob pieces written together: `conv*`, `*1`, `s*b1` (a digit after `*` lexes as a number).
    this.MANY({
      GATE: () =>
        this.adjacentToPrevious() && (this.LA(1).tokenType === T.Identifier || this.LA(1).tokenType === T.Star || this.LA(1).tokenType === T.NumberLiteral),
      DEF: () => this.OR2([{ ALT: () => this.CONSUME2(T.Identifier) }, { ALT: () => this.CONSUME2(T.Star) }, { ALT: () => this.CONSUME(T.NumberLiteral) }]),
    });
  });

  public sweepStatement = this.RULE('sweepStatement', () => {
    this.CONSUME(T.Sweep);
    this.SUBRULE(this.sweepFactor);
    this.MANY(() => {
      this.CONSUME(T.Star);
      this.SUBRULE2(this.sweepFactor);
    });
  });

  public sweepFactor = this.RULE('sweepFactor', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Zip);
          this.CONSUME(T.LParen);
          this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.sweepAxis) });
          this.CONSUME(T.RParen);
        },
      },
      { ALT: () => this.SUBRULE2(this.sweepAxis) },
    ]);
  });

  public sweepAxis = this.RULE('sweepAxis', () => {
    this.SUBRULE(this.path);
    this.CONSUME(T.In);
    this.SUBRULE(this.unaryExpression, { LABEL: 'from' });
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.SUBRULE2(this.unaryExpression, { LABEL: 'to' });
      this.OPTION2(() => {
        this.CONSUME(T.By);
        this.SUBRULE3(this.unaryExpression, { LABEL: 'by' });
      });
    });
  });

  public path = this.RULE('path', () => {
    this.SUBRULE(this.fieldName);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.SUBRULE2(this.fieldName);
    });
  });

  public qualifiedName = this.RULE('qualifiedName', () => {
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.SUBRULE(this.fieldName);
    });
  });

  // ---- expressions ------------------------------------------------------------------------
  public expression = this.RULE('expression', () => {
    this.SUBRULE(this.shapeExpression, { LABEL: 'from' });
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.SUBRULE2(this.shapeExpression, { LABEL: 'to' });
      this.OPTION2(() => {
        this.CONSUME(T.By);
        this.SUBRULE3(this.shapeExpression, { LABEL: 'by' });
      });
    });
  });

  public shapeExpression = this.RULE('shapeExpression', () => {
    this.SUBRULE(this.additiveExpression, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.Cross);
      this.SUBRULE2(this.additiveExpression, { LABEL: 'operands' });
    });
  });

  public additiveExpression = this.RULE('additiveExpression', () => {
    this.SUBRULE(this.multiplicativeExpression, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus, { LABEL: 'operators' }) }, { ALT: () => this.CONSUME(T.Minus, { LABEL: 'operators' }) }]);
      this.SUBRULE2(this.multiplicativeExpression, { LABEL: 'operands' });
    });
  });

  public multiplicativeExpression = this.RULE('multiplicativeExpression', () => {
    this.SUBRULE(this.unaryExpression, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Star, { LABEL: 'operators' }) }, { ALT: () => this.CONSUME(T.Slash, { LABEL: 'operators' }) }]);
      this.SUBRULE2(this.unaryExpression, { LABEL: 'operands' });
    });
  });

  public unaryExpression = this.RULE('unaryExpression', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([{ ALT: () => this.CONSUME(T.Minus, { LABEL: 'sign' }) }, { ALT: () => this.CONSUME(T.Plus, { LABEL: 'sign' }) }]);
          this.SUBRULE(this.unaryExpression, { LABEL: 'operand' });
        },
      },
      { ALT: () => this.SUBRULE(this.atom) },
    ]);
  });

  public atom = this.RULE('atom', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.numberAtom) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.SUBRULE(this.listLiteral) },
      { ALT: () => this.SUBRULE(this.body, { LABEL: 'object' }) },
      { ALT: () => this.SUBRULE(this.refOrCall) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(T.RParen);
        },
      },
    ]);
  });

  public numberAtom = this.RULE('numberAtom', () => {
    this.CONSUME(T.NumberLiteral);
    this.OPTION({
      GATE: () => this.unitFollows(),
      DEF: () => this.OR([{ ALT: () => this.CONSUME(T.Percent, { LABEL: 'unit' }) }, { ALT: () => this.CONSUME(T.Identifier, { LABEL: 'unit' }) }]),
    });
  });

  public listLiteral = this.RULE('listLiteral', () => {
    this.CONSUME(T.LBracket);
    this.MANY(() => {
      this.SUBRULE(this.expression, { LABEL: 'items' });
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  public refOrCall = this.RULE('refOrCall', () => {
    this.SUBRULE(this.qualifiedName);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.argument) });
      this.CONSUME(T.RParen);
    });
  });

  public argument = this.RULE('argument', () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Equals,
      DEF: () => {
        this.SUBRULE(this.fieldName, { LABEL: 'name' });
        this.CONSUME(T.Equals);
      },
    });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  // ---- gates --------------------------------------------------------------------------------
  private unitFollows(): boolean {
    const next = this.LA(1);
    if (next.tokenType === T.Percent) return true;
    if (next.tokenType !== T.Identifier) return false;
    const previous = this.LA(0);
    if (previous.endLine !== undefined && next.startLine !== previous.endLine) return false;
    const after = this.LA(2).tokenType;
    return after !== T.Equals && after !== T.LParen && after !== T.Arrow && after !== T.Dot;
  }

  private adjacentToPrevious(): boolean {
    const previous = this.LA(0);
    const next = this.LA(1);
    return previous.endOffset !== undefined && next.startOffset === previous.endOffset + 1;
  }

  /** Does a map entry (pattern `->` target) start at lookahead k? */
  private isMapEntryAhead(k: number): boolean {
    for (let i = k; ; i++) {
      const t = this.LA(i).tokenType;
      if (t === T.Arrow) return i > k;
      if (t !== T.Identifier && t !== T.Star && t !== T.Dot && t !== T.StringLiteral && t !== T.NumberLiteral) return false;
    }
  }
}

/** One shared instance: chevrotain parsers are reusable and costly to construct. */
export const xbarParser = new XbarParser();

export interface ParseOutput {
  cst: CstNode;
  tokens: IToken[];
  comments: IToken[];
  lexErrors: { offset: number; line: number; column: number; length: number; message: string }[];
  parseErrors: { token: IToken; message: string; previousToken?: IToken | undefined }[];
  /** Where checking stopped because the file has more than MAX_SYNTAX_ERRORS syntax errors. */
  stoppedAt?: { offset: number; line: number; column: number } | undefined;
}

/**
 * How deeply an expression may nest: open brackets plus operators in unfinished chains. Beyond
 * this the recursive-descent parser and the evaluator would overflow the stack, so the tokens are
 * cut there (real specs nest a handful of levels). Messages starting with "nesting too deep" are
 * already worded for the user.
 */
export const MAX_NESTING = 48;

/** Index of the first token that nests deeper than MAX_NESTING, or -1. */
function nestingCut(tokens: IToken[]): number {
  const frames: number[] = [0];
  let depth = 1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!.tokenType;
    if (t === T.LParen || t === T.LBracket || t === T.LBrace) {
      frames.push(0);
      depth += 1;
    } else if (t === T.RParen || t === T.RBracket || t === T.RBrace) {
      if (frames.length > 1) depth -= 1 + frames.pop()!;
    } else if (t === T.Plus || t === T.Minus || t === T.Star || t === T.Slash || t === T.Cross) {
      frames[frames.length - 1]! += 1;
      depth += 1;
    } else if (t === T.Comma || t === T.Semicolon || t === T.Equals || t === T.Arrow || T.keywordTokens.includes(t)) {
      // A new sibling: the operators before it are in a finished subtree.
      depth -= frames[frames.length - 1]!;
      frames[frames.length - 1] = 0;
    }
    if (depth > MAX_NESTING) return i;
  }
  return -1;
}

/**
 * Lex a large text's head first: when it alone has more errors than the budget, its tokens and
 * errors are what the whole text's would be up to the cut (lexSafeCut), so a file of garbage
 * costs the head's lexing, not the whole file's.
 */
function lexWithBudget(text: string): ILexingResult {
  const cut = text.length > LEX_HEAD ? lexSafeCut(text, LEX_HEAD) : -1;
  if (cut > 0) {
    const head = T.xbarLexer.tokenize(text.slice(0, cut));
    if (head.errors.length > MAX_SYNTAX_ERRORS) return head;
  }
  return T.xbarLexer.tokenize(text);
}

const LEX_HEAD = 64 * 1024;

export function parseText(text: string): ParseOutput {
  const lexed = lexWithBudget(text);
  const lexErrors = lexed.errors.slice(0, MAX_SYNTAX_ERRORS);
  // Past the budget of lexer errors, nothing after the next one is parsed.
  const lexStop = lexed.errors[MAX_SYNTAX_ERRORS];
  let stoppedAt = lexStop ? { offset: lexStop.offset, line: lexStop.line ?? 1, column: lexStop.column ?? 1 } : undefined;
  let tokens = lexStop ? lexed.tokens.slice(0, tokensBefore(lexed.tokens, lexStop.offset)) : lexed.tokens;
  const cut = nestingCut(tokens);
  const tooDeep = cut >= 0 ? tokens[cut] : undefined;
  if (tooDeep) {
    tokens = tokens.slice(0, cut);
    if (stoppedAt && stoppedAt.offset > tooDeep.startOffset) stoppedAt = undefined;
  }
  let parsed = parseTokens(tokens, MAX_SYNTAX_ERRORS - lexErrors.length);
  if ('spentAt' in parsed) {
    // The parser's budget ran out at `spentAt`: parse only the tokens before it.
    const t = parsed.spentAt;
    if (t && !Number.isNaN(t.startOffset) && t.tokenType !== EOF) stoppedAt = { offset: t.startOffset, line: t.startLine ?? 1, column: t.startColumn ?? 1 };
    if (stoppedAt) tokens = tokens.slice(0, tokensBefore(tokens, stoppedAt.offset));
    parsed = parseTokens(tokens, Infinity) as Parsed;
  }
  // Errors at the end of cut-short input come from the cut, not from the text.
  const parseErrors = stoppedAt ? parsed.errors.filter((e) => e.token.tokenType !== EOF) : parsed.errors;
  if (tooDeep) {
    parseErrors.unshift({
      token: tooDeep,
      message: `nesting too deep: more than ${MAX_NESTING} levels of brackets and chained operators; the rest of the file is not checked`,
      previousToken: undefined,
    });
  }
  return {
    cst: parsed.cst,
    tokens: lexed.tokens,
    comments: (lexed.groups['comments'] ?? []) as IToken[],
    lexErrors: lexErrors
      .filter((e) => !stoppedAt || e.offset < stoppedAt.offset)
      .map((e) => ({ offset: e.offset, line: e.line ?? 1, column: e.column ?? 1, length: e.length, message: e.message })),
    parseErrors,
    ...(stoppedAt ? { stoppedAt } : {}),
  };
}

interface Parsed {
  cst: CstNode;
  errors: ParseOutput['parseErrors'];
}

/** Parse `tokens` with a budget of errors; when it runs out, the token of the error that would have exceeded it. */
function parseTokens(tokens: IToken[], budget: number): Parsed | { spentAt: IToken | undefined } {
  setSyntaxBudget(budget);
  try {
    xbarParser.input = tokens;
    const cst = xbarParser.file();
    return {
      cst,
      errors: xbarParser.errors.map((e) => ({ token: e.token, message: e.message, previousToken: (e as { previousToken?: IToken }).previousToken })),
    };
  } catch (err) {
    if (!(err instanceof SyntaxBudgetSpent)) throw err;
    return { spentAt: err.token };
  } finally {
    setSyntaxBudget(Infinity);
  }
}
