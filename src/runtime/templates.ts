/** Reading a handlebars template (ours, or a user's `--template FILE`) as a regular file within the template cap. */
import { FileReadError, readRegularText } from '../io/read-file.js';
import { XbarcRuntimeError } from '../model/errors.js';

export function readTemplate(path: string): string {
  try {
    return readRegularText(path, 'template');
  } catch (err) {
    if (err instanceof FileReadError) throw new XbarcRuntimeError('template/unreadable', `template ${err.message}`);
    throw err;
  }
}
