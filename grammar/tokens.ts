/**
 * Tokens of the .xbar language. Keywords use `longer_alt: Identifier` so that names such as
 * `devices` or `mapping` lex as identifiers. Comments go to a separate group: the parser ignores
 * them, the formatter and language server keep them.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\v]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: 'comments', line_breaks: true });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

function keyword(word: string, name: string): TokenType {
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'` });
}

export const Import = keyword('import', 'Import');
export const From = keyword('from', 'From');
export const As = keyword('as', 'As');
export const Device = keyword('device', 'Device');
export const Crossbar = keyword('crossbar', 'Crossbar');
export const Network = keyword('network', 'Network');
export const Experiment = keyword('experiment', 'Experiment');
export const Block = keyword('block', 'Block');
export const Shortcut = keyword('shortcut', 'Shortcut');
export const Input = keyword('input', 'Input');
export const Map = keyword('map', 'Map');
export const Sweep = keyword('sweep', 'Sweep');
export const Zip = keyword('zip', 'Zip');
export const In = keyword('in', 'In');
export const By = keyword('by', 'By');
export const True = keyword('true', 'True');
export const False = keyword('false', 'False');
/** The dimension operator of shapes: `64 x 64`, `1 x 28 x 28`. Reserved, so `x` is not a name. */
export const Cross = createToken({ name: 'Cross', pattern: /x|×/, longer_alt: Identifier, label: "'x'" });

export const NumberLiteral = createToken({ name: 'NumberLiteral', pattern: /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/ });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n\r]|\\.)*"/ });

export const Arrow = createToken({ name: 'Arrow', pattern: /->/, label: "'->'" });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./, label: "'..'" });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: "'.'" });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: "'}'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/, label: "';'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const Percent = createToken({ name: 'Percent', pattern: /%/, label: "'%'" });

/** Keywords in declaration order; the TextMate grammar test checks each is highlighted. */
export const keywordTokens: TokenType[] = [
  Import,
  From,
  As,
  Device,
  Crossbar,
  Network,
  Experiment,
  Block,
  Shortcut,
  Input,
  Map,
  Sweep,
  Zip,
  In,
  By,
  True,
  False,
];

export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  ...keywordTokens,
  Cross,
  Identifier,
  NumberLiteral,
  StringLiteral,
  Arrow,
  DotDot,
  Dot,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semicolon,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
];

export const xbarLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false, skipValidations: true });

/** The word each keyword token matches, for completion and the TextMate grammar test. */
export function keywordWord(token: TokenType): string {
  return String(token.LABEL ?? token.name).replace(/'/g, '');
}
