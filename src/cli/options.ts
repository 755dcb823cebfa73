// A shared parser (src/config/parsers.ts) as a commander argument parser for one flag: a bad value
// is BRUPOP_E_CONFIG naming the flag (exit 2), as the option tables report it.
export function flagParser<T>(parse: (raw: string, name: string) => T, flag: string): (value: string) => T {
  return (value) => parse(value, flag);
}
