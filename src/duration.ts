// Durations written as the `ms` package reads them ('500ms', '90s', '2 hours',
// '7d'), for serving's maxAge and the command line's --max-age alike.
import ms from 'ms';

/** The milliseconds `text` names, or undefined when it names none. */
export function parseMs(text: string): number | undefined {
  try {
    const millis = ms(text as ms.StringValue);
    return typeof millis === 'number' && millis >= 0 ? millis : undefined;
  } catch {
    // ms throws on '' and on strings over 100 characters.
    return undefined;
  }
}
