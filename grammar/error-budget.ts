/**
 * A budget of syntax errors per file. A file of garbage (megabytes of stray tokens) would
 * otherwise give hundreds of thousands of errors, each one costing recovery time, memory and
 * an editor squiggle nobody reads. The lexer's errors are cut after the budget; the parser's
 * error-message provider (chevrotain calls it once per error it records) throws when the budget
 * is spent, and parseText then parses only the tokens before that error.
 */
import { defaultParserErrorProvider, type IParserErrorMessageProvider, type IToken } from 'chevrotain';
import { StringLiteral } from './tokens.js';

/** Syntax errors (lexer and parser together) reported per file before the rest is skipped. */
export const MAX_SYNTAX_ERRORS = 100;

/** Thrown out of the parse when the budget is spent; `token` is where the next error was. */
export class SyntaxBudgetSpent extends Error {
  constructor(readonly token: IToken | undefined) {
    super('too many syntax errors');
  }
}

let remaining = Infinity;

/** Errors the next parse may record before it stops. */
export function setSyntaxBudget(errors: number): void {
  remaining = errors;
}

function spend(token: IToken | undefined): void {
  if (remaining <= 0) throw new SyntaxBudgetSpent(token);
  remaining -= 1;
}

/** chevrotain's messages, with the budget spent on each. */
export const budgetedErrorProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage(options) {
    spend(options.actual);
    return defaultParserErrorProvider.buildMismatchTokenMessage(options);
  },
  buildNotAllInputParsedMessage(options) {
    spend(options.firstRedundant);
    return defaultParserErrorProvider.buildNotAllInputParsedMessage(options);
  },
  buildNoViableAltMessage(options) {
    spend(options.actual[0]);
    return defaultParserErrorProvider.buildNoViableAltMessage(options);
  },
  buildEarlyExitMessage(options) {
    spend(options.actual[0]);
    return defaultParserErrorProvider.buildEarlyExitMessage(options);
  },
};

/** The number of tokens that start before `offset` (tokens are in order). */
export function tokensBefore(tokens: IToken[], offset: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid]!.startOffset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The last offset before `limit` where the text can be cut without changing how anything before
 * it lexes: a whitespace character that the lexer meets between tokens. Only strings, comments
 * and whitespace hold whitespace, so the scan follows the lexer's own rules for those: a string
 * is what the StringLiteral pattern matches (an unclosed quote is an error, and lexing goes on
 * after it), a line comment runs to the line break, and a block comment may close beyond the
 * head, so the scan ends at the first one. -1 when there is no such place.
 */
export function lexSafeCut(text: string, limit: number): number {
  const string = new RegExp(StringLiteral.PATTERN as RegExp, 'y');
  const end = Math.min(limit, text.length);
  let cut = -1;
  let i = 0;
  while (i < end) {
    const ch = text[i]!;
    if (WHITESPACE.test(ch)) cut = i++;
    else if (ch === '"') {
      string.lastIndex = i;
      i += string.exec(text)?.[0].length ?? 1;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < end && text[i] !== '\n' && text[i] !== '\r') i++;
    } else if (ch === '/' && text[i + 1] === '*') return cut;
    else i++;
  }
  return cut;
}

const WHITESPACE = /[ \t\r\n\f\v]/;
