/** The xbarc command line: a thin shell over the compiler and runtime services. */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closest } from '../compiler/diagnostics.js';
import { packageRoot } from '../compiler/resolve.js';
import { checkCommand } from './check-command.js';
import { registerEditorCommands } from './editor-commands.js';
import { registerSweepCommands } from './sweep-commands.js';
import { registerMvmCommand } from './mvm-command.js';
import { registerTileCommand } from './tile-command.js';
import { registerSurrogateCommand } from './surrogate-command.js';
import { planCommand } from './plan-command.js';
import { runCommand } from './run-command.js';
import { DEFAULT_SPIN, DEFAULT_THREADS } from '../runtime/engine/session.js';
import { exitQuietlyOnClosedPipe } from './closed-pipe.js';

const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The command word when it names no command. commander answers `xbarc frob --help` and
 * `xbarc help frob` with the top-level help and exit 0, which hides the typo from scripts.
 */
function unknownCommand(program: Command, argv: string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const word = words[0] === 'help' ? words[1] : words[0];
  if (word === undefined || word === 'help') return undefined;
  return program.commands.some((c) => c.name() === word || c.aliases().includes(word)) ? undefined : word;
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe(process.stdout);
  let exitCode = 0;
  const program = new Command();
  program
    .name('xbarc')
    .description('Simulate DNN training and inference on resistive crossbar hardware.')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('check')
    .description('check .xbar files and print diagnostics')
    .argument('<files...>', '.xbar files to check')
    .option('--json', 'machine-readable output')
    .option('--set <path=value>', 'override a value (repeatable)', collect)
    .action((files: string[], opts: { json?: boolean; set?: string[] }) => {
      exitCode = checkCommand(files, opts);
    });

  program
    .command('plan')
    .description('compile a spec and show its execution plan (layers, shapes, tiles, FLOPs, memory)')
    .argument('<file>', '.xbar file')
    .option('--json', 'print the plan JSON (schemas/plan.schema.json)')
    .option('--set <path=value>', 'override a value (repeatable)', collect)
    .option('--point <k>', 'only sweep point k (0-based)')
    .option('--experiment <name>', 'only this experiment')
    .action((file: string, opts: { json?: boolean; set?: string[]; point?: string; experiment?: string }) => {
      exitCode = planCommand(file, opts);
    });

  program
    .command('run')
    .description('train and evaluate the experiments of a spec; writes results.json')
    .argument('<file>', '.xbar file')
    .option('--out <dir>', "output directory (default: the spec's output, results/<experiment>)")
    .option('--set <path=value>', 'override a value (repeatable), checked like the file', collect)
    .option('--point <k>', 'run only sweep point k (0-based)')
    .option('--experiment <name>', 'only this experiment')
    .option('--quiet', 'no progress output')
    .option('--threads <n>', `onnxruntime threads per experiment (sweep point); the numbers depend on it (default ${DEFAULT_THREADS} on any machine)`)
    .addOption(
      new Option('--spin <mode>', `whether idle onnxruntime threads spin (default ${DEFAULT_SPIN ? 'on' : 'off'}); never changes the numbers`).choices([
        'on',
        'off',
      ]),
    )
    .option(
      '--profile',
      "profile with onnxruntime's profiler: time per op type, layer and phase, printed and written to profile.txt (slower; profile a short run)",
    )
    .action(
      async (
        file: string,
        opts: { out?: string; set?: string[]; point?: string; experiment?: string; quiet?: boolean; threads?: string; spin?: 'on' | 'off'; profile?: boolean },
      ) => {
        exitCode = await runCommand(file, opts);
      },
    );

  registerEditorCommands(program, (code) => {
    exitCode = code;
  });
  registerSweepCommands(program, (code) => (exitCode = code));
  registerMvmCommand(program, (code) => (exitCode = code));
  registerTileCommand(program, (code) => (exitCode = code));
  registerSurrogateCommand(program, (code) => (exitCode = code));

  const unknown = unknownCommand(program, argv);
  if (unknown !== undefined) {
    const suggestion = closest(
      unknown,
      program.commands.map((c) => c.name()),
    );
    process.stderr.write(`error: unknown command '${unknown}'\n${suggestion ? `(Did you mean ${suggestion}?)\n` : ''}`);
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return exitCode;
}
